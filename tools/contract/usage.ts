// What a frontend team writes against the generated types: compiled under
// `tsc --strict --noEmit` in CI (scripts/contract.sh), never run. Every
// value below is typed by the spec alone: no casts, no `any`. If the spec
// stops typing a body (a bare object, a missing schema), this stops
// compiling.
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/sintra";

type Schemas = components["schemas"];
type Victim = Schemas["victim_record"];
type DuplicateWarning = Schemas["DuplicateWarning"];
type ImportReport = Schemas["ImportReport"];
type Problem = Schemas["Problem"];

function fail(what: string, problem: Problem | undefined): never {
  // `code` is stable across languages; `detail` is for people.
  throw new Error(`${what}: ${problem?.code ?? "no answer"} ${problem?.detail ?? ""}`);
}

export async function stateSystemFlow(
  baseUrl: string,
  username: string,
  password: string,
  workbook: Blob,
): Promise<{ victims: Victim[]; warnings: DuplicateWarning[]; report: ImportReport }> {
  const client = createClient<paths>({ baseUrl });

  // Log in.
  const token = await client.POST("/api/v1/auth/token", {
    body: { grant_type: "password", username, password },
  });
  if (!token.data) fail("login", token.error);
  const headers = { Authorization: `Bearer ${token.data.access_token}` };
  const expiresIn: number = token.data.expires_in;
  void expiresIn;

  // List and page victims: a page is {items, next_cursor}.
  const victims: Victim[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.GET("/api/v1/victims", {
      params: { query: { limit: 100, cursor } },
      headers,
    });
    if (!page.data) fail("list victims", page.error);
    victims.push(...page.data.items);
    cursor = page.data.next_cursor ?? undefined;
  } while (cursor !== undefined);
  const first = victims[0];
  if (first) {
    const id: string = first.id;
    const version: number = first.version;
    const detected: string = first.detection_date;
    void [id, version, detected];
  }

  // Create one and read its duplicate warnings: a person's write answers
  // {data, warnings}.
  const created = await client.POST("/api/v1/victims", {
    params: { header: { "Idempotency-Key": "registro-2024-000123" } },
    body: {
      condition: "VICTIMA",
      sex: "MUJER",
      detection_date: "2024-05-02",
      detection_entity_code: "09",
      given_names: "Ana",
      first_surname: "Pérez",
      external_folio: "2024-000123",
    },
    headers,
  });
  if (!created.data) fail("create victim", created.error);
  const record: Victim = created.data.data;
  const warnings: DuplicateWarning[] = created.data.warnings;
  for (const w of warnings) {
    const level: "exact" | "probable" | "possible" = w.level;
    const where: string = w.candidate.entity_code;
    void [level, where, w.score];
  }

  // Read it back with its version, then change a field with If-Match.
  const read = await client.GET("/api/v1/victims/{id}", {
    params: { path: { id: record.id } },
    headers,
  });
  if (!read.data) fail("read victim", read.error);
  const updated = await client.PATCH("/api/v1/victims/{id}", {
    params: { path: { id: record.id }, header: { "If-Match": `"${read.data.version}"` } },
    body: { alias: "A." },
    headers,
  });
  if (!updated.data) fail("update victim", updated.error);
  const newVersion: number = updated.data.data.version;
  void newVersion;

  // Upload a workbook and read the import report. The spec describes the
  // file part as a binary string; the serializer puts the Blob in it.
  const imported = await client.POST("/api/v1/excel/imports/{form}", {
    params: { path: { form: "victim" }, query: { dry_run: true } },
    body: { file: "victimas.xlsx" },
    bodySerializer: (body) => {
      const data = new FormData();
      data.append("file", workbook, body.file);
      return data;
    },
    headers,
  });
  if (!imported.data) fail("import", imported.error);
  const report: ImportReport = imported.data;
  for (const e of report.errors) {
    const at: string = `${e.column ?? "?"}${e.row}`;
    void [at, e.code, e.message];
  }

  return { victims, warnings, report };
}
