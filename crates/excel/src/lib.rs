//! SINTRA Excel: templates, import parsing and export writing (calamine,
//! rust_xlsxwriter), driven by the form specs of `sintra-domain`. No
//! database. Not written yet: see the Excel issue.
