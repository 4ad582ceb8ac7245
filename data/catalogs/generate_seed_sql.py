#!/usr/bin/env python3
"""Generate the catalog seed migration from the CSV files in this folder.

    python3 data/catalogs/generate_seed_sql.py          # (re)write up.sql and down.sql
    python3 data/catalogs/generate_seed_sql.py --check  # exit 1 if they are out of date

Inputs (all UTF-8 CSV, in this folder):
  catalogs.csv           one row per catalog: code, labels, parent_catalog, file, source
  entidades.csv, municipios.csv, formas_explotacion.csv, etapas_procesales.csv,
  determinaciones.csv, medidas_cautelares.csv
                         copied unchanged from shared/catalogs (Spanish only)
  labels_en.csv          English labels for the items of those files
                         (municipios keep their proper name in both languages)
  <catalog>.csv          every other catalog, with the columns
                         code,label_es,label_en,parent_code,sort_order,extra

Output: migrations/2026-11-22-000004_seed_catalogs/{up,down}.sql. The output
depends only on the inputs (no dates, no dictionary-order surprises), so running
the script twice gives byte-identical files. Standard library only.
"""

import csv
import io
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MIGRATION = os.path.join(ROOT, "migrations", "2026-11-22-000004_seed_catalogs")

CATALOG_CODE = re.compile(r"^[a-z][a-z0-9_]{1,49}$")  # catalogs.code CHECK
ITEM_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_]{0,59}$")  # catalog_items.code CHECK
ENTITY_CODE = re.compile(r"^[0-9]{2}$")  # entities.code CHECK
ITEM_COLUMNS = ["code", "label_es", "label_en", "parent_code", "sort_order", "extra"]


class DataError(Exception):
    pass


def read_csv(name, columns=None):
    path = os.path.join(HERE, name)
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    if text.startswith("\ufeff"):
        raise DataError(f"{name}: remove the byte-order mark")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    if columns is not None and reader.fieldnames != columns:
        raise DataError(f"{name}: header must be {','.join(columns)}, found {','.join(reader.fieldnames or [])}")
    for i, row in enumerate(rows, start=2):
        if None in row or any(v is None for v in row.values()):
            raise DataError(f"{name}:{i}: wrong number of columns")
    return rows


def sql_text(value):
    if value is None:
        return "NULL"
    if any(ord(c) < 32 for c in value):
        raise DataError(f"control character in {value!r}")
    return "'" + value.replace("'", "''") + "'"


def sql_json(obj):
    text = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))
    return sql_text(text) + "::jsonb"


class Item:
    __slots__ = ("code", "label_es", "label_en", "parent_code", "sort_order", "extra")

    def __init__(self, code, label_es, label_en, parent_code, sort_order, extra):
        self.code = code
        self.label_es = label_es
        self.label_en = label_en
        self.parent_code = parent_code or None
        self.sort_order = sort_order
        self.extra = extra or {}


def load_english():
    english = {}
    for row in read_csv("labels_en.csv", ["catalog", "code", "label_en"]):
        key = (row["catalog"], row["code"])
        if key in english:
            raise DataError(f"labels_en.csv: duplicate {key}")
        english[key] = row["label_en"]
    return english


def english_for(english, catalog, code):
    try:
        return english.pop((catalog, code))
    except KeyError:
        raise DataError(f"labels_en.csv: no English label for {catalog}/{code}") from None


def load_entities(english):
    rows = read_csv("entidades.csv", ["cve_ent", "nombre", "abreviatura", "clave_curp", "municipios", "poblacion_2020"])
    items = []
    for i, r in enumerate(rows, start=1):
        items.append(Item(
            r["cve_ent"], r["nombre"], english_for(english, "entity", r["cve_ent"]), None, i,
            {"population": int(r["poblacion_2020"]), "curp_key": r["clave_curp"], "abbreviation": r["abreviatura"]},
        ))
    return rows, items


def load_municipalities(entity_rows):
    rows = read_csv("municipios.csv", ["cve_ent", "cve_mun", "cvegeo", "nombre", "poblacion_2020"])
    expected = {r["cve_ent"]: int(r["municipios"]) for r in entity_rows}
    seen = {}
    items = []
    for i, r in enumerate(rows, start=1):
        if r["cvegeo"] != r["cve_ent"] + r["cve_mun"] or not re.fullmatch(r"[0-9]{5}", r["cvegeo"]):
            raise DataError(f"municipios.csv: bad cvegeo {r['cvegeo']}")
        seen[r["cve_ent"]] = seen.get(r["cve_ent"], 0) + 1
        items.append(Item(r["cvegeo"], r["nombre"], r["nombre"], r["cve_ent"], i,
                          {"population": int(r["poblacion_2020"])}))
    if seen != expected:
        raise DataError("municipios.csv: municipios per state differ from entidades.csv")
    return items


def load_simple(english, catalog, name, columns, extra_of, sort_of=None):
    rows = read_csv(name, columns)
    items = []
    for i, r in enumerate(rows, start=1):
        items.append(Item(r["codigo"], r["nombre"], english_for(english, catalog, r["codigo"]),
                          r.get("etapa") or None, sort_of(r) if sort_of else i, extra_of(r)))
    return items


def load_generic(name):
    items = []
    for i, r in enumerate(read_csv(name, ITEM_COLUMNS), start=2):
        try:
            sort_order = int(r["sort_order"])
        except ValueError:
            raise DataError(f"{name}:{i}: sort_order must be an integer") from None
        extra = {}
        if r["extra"].strip():
            extra = json.loads(r["extra"])
            if not isinstance(extra, dict):
                raise DataError(f"{name}:{i}: extra must be a JSON object")
        items.append(Item(r["code"], r["label_es"], r["label_en"], r["parent_code"], sort_order, extra))
    return items


def load_all():
    english = load_english()
    catalogs = read_csv("catalogs.csv", ["code", "label_es", "label_en", "parent_catalog", "file", "source"])
    entity_rows, entity_items = load_entities(english)
    special = {
        "entity": lambda: entity_items,
        "municipality": lambda: load_municipalities(entity_rows),
        "exploitation_form": lambda: load_simple(
            english, "exploitation_form", "formas_explotacion.csv", ["codigo", "fraccion_art_10", "nombre"],
            lambda r: {"fraction": r["fraccion_art_10"]}),
        "procedural_stage": lambda: load_simple(
            english, "procedural_stage", "etapas_procesales.csv", ["codigo", "orden", "nombre"],
            lambda r: {}, sort_of=lambda r: int(r["orden"])),
        "determination": lambda: load_simple(
            english, "determination", "determinaciones.csv", ["codigo", "etapa", "nombre", "cnpp_art"],
            lambda r: {"cnpp_article": r["cnpp_art"] or None}),
        "precautionary_measure": lambda: load_simple(
            english, "precautionary_measure", "medidas_cautelares.csv", ["codigo", "fraccion_art_155", "nombre"],
            lambda r: {"fraction": r["fraccion_art_155"]}),
    }
    loaded = []
    for c in catalogs:
        code = c["code"]
        if code in special:
            items = special[code]()
        else:
            if c["file"] != code + ".csv":
                raise DataError(f"catalogs.csv: {code} must be read from {code}.csv")
            items = load_generic(c["file"])
        loaded.append((c, items))
    if english:
        raise DataError(f"labels_en.csv: labels for unknown items {sorted(english)}")
    return entity_rows, loaded


def validate(loaded):
    codes = [c["code"] for c, _ in loaded]
    if len(set(codes)) != len(codes):
        raise DataError("catalogs.csv: duplicate catalog code")
    by_code = {c["code"]: {i.code for i in items} for c, items in loaded}
    position = {code: n for n, code in enumerate(codes)}
    for c, items in loaded:
        code = c["code"]
        if not CATALOG_CODE.match(code):
            raise DataError(f"catalog code {code!r} fails the CHECK")
        for field in ("label_es", "label_en"):
            if not c[field].strip():
                raise DataError(f"catalogs.csv: {code} has an empty {field}")
        parent = c["parent_catalog"] or None
        if parent is not None and position.get(parent, len(codes)) >= position[code]:
            raise DataError(f"catalogs.csv: {code}'s parent {parent} must come before it")
        if not items:
            raise DataError(f"{code}: no items")
        seen = set()
        for it in items:
            where = f"{code}/{it.code}"
            if not ITEM_CODE.match(it.code):
                raise DataError(f"{where}: code fails the CHECK (uppercase ASCII, digits, underscore)")
            if it.code in seen:
                raise DataError(f"{where}: duplicate code")
            seen.add(it.code)
            for label in (it.label_es, it.label_en):
                if not 1 <= len(label) <= 300 or label != label.strip():
                    raise DataError(f"{where}: label must be 1..300 characters without outer spaces: {label!r}")
            if parent is None and it.parent_code is not None:
                raise DataError(f"{where}: parent_code given but the catalog has no parent_catalog")
            if parent is not None and it.parent_code not in by_code[parent]:
                raise DataError(f"{where}: parent_code {it.parent_code!r} is not an item of {parent}")
            if not -2**31 <= it.sort_order < 2**31:
                raise DataError(f"{where}: sort_order out of range")
    # procedural events name the stage they belong to.
    stages = by_code.get("procedural_stage", set())
    for c, items in loaded:
        if c["code"] == "procedural_event":
            for it in items:
                if it.extra.get("stage") not in stages:
                    raise DataError(f"procedural_event/{it.code}: unknown stage {it.extra.get('stage')!r}")


HEADER = """\
-- GENERATED by data/catalogs/generate_seed_sql.py from data/catalogs/*.csv.
-- Do not edit by hand: change the CSV files and run the script again.
"""


def render(entity_rows, loaded):
    out = [HEADER, "\n-- Organization: the federal level ('00') and the 32 entidades federativas.\n"]
    national = sum(int(r["poblacion_2020"]) for r in entity_rows)
    ent_rows = [("00", "Federación", "Fed.", "NE", national)]
    for r in entity_rows:
        if not ENTITY_CODE.match(r["cve_ent"]):
            raise DataError(f"entidades.csv: bad key {r['cve_ent']}")
        ent_rows.append((r["cve_ent"], r["nombre"], r["abreviatura"], r["clave_curp"], int(r["poblacion_2020"])))
    out.append("INSERT INTO entities (code, name, abbreviation, curp_key, population) VALUES\n")
    out.append(",\n".join(
        f"    ({sql_text(a)}, {sql_text(b)}, {sql_text(c)}, {sql_text(d)}, {e})" for a, b, c, d, e in ent_rows))
    out.append(";\n\n-- The catalogs (parents first).\n")
    out.append("INSERT INTO catalogs (code, label_es, label_en, parent_catalog, source) VALUES\n")
    out.append(",\n".join(
        f"    ({sql_text(c['code'])}, {sql_text(c['label_es'])}, {sql_text(c['label_en'])}, "
        f"{sql_text(c['parent_catalog'] or None)}, {sql_text(c['source'])})" for c, _ in loaded))
    out.append(";\n")
    for c, items in loaded:
        out.append(f"\n-- {c['code']}: {len(items)} items ({c['file']}).\n")
        out.append("INSERT INTO catalog_items (catalog, code, label_es, label_en, parent_code, sort_order, extra) VALUES\n")
        cat = sql_text(c["code"])
        out.append(",\n".join(
            f"    ({cat}, {sql_text(it.code)}, {sql_text(it.label_es)}, {sql_text(it.label_en)}, "
            f"{sql_text(it.parent_code)}, {it.sort_order}, {sql_json(it.extra)})" for it in items))
        out.append(";\n")
    up = "".join(out)

    cat_list = ",\n    ".join(sql_text(c["code"]) for c, _ in loaded)
    ent_list = ", ".join(sql_text(r[0]) for r in ent_rows)
    down = (
        HEADER
        + "\n-- Removes what up.sql inserted. Catalog items added later through the API to these\n"
        + "-- catalogs go with them; entities still referenced by institutions make this fail.\n"
        + f"DELETE FROM catalog_items WHERE catalog IN (\n    {cat_list}\n);\n"
        + f"DELETE FROM catalogs WHERE code IN (\n    {cat_list}\n);\n"
        + f"DELETE FROM entities WHERE code IN ({ent_list});\n"
    )
    return up, down


def main(argv):
    check = "--check" in argv[1:]
    try:
        entity_rows, loaded = load_all()
        validate(loaded)
        up, down = render(entity_rows, loaded)
    except (DataError, ValueError, KeyError) as e:
        print(f"generate_seed_sql: {e}", file=sys.stderr)
        return 2
    targets = {os.path.join(MIGRATION, "up.sql"): up, os.path.join(MIGRATION, "down.sql"): down}
    stale = []
    for path, text in targets.items():
        current = None
        if os.path.exists(path):
            with open(path, encoding="utf-8", newline="") as f:
                current = f.read()
        if current != text:
            stale.append(path)
            if not check:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8", newline="\n") as f:
                    f.write(text)
    for c, items in loaded:
        print(f"{c['code']:24} {len(items):5}")
    if check and stale:
        print("out of date: " + ", ".join(os.path.relpath(p, ROOT) for p in stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
