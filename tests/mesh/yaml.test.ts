// YAML as kubectl 1.25–1.27 reads it (sigs.k8s.io/yaml over gopkg.in/yaml.v2 v2.4.0, YAML 1.1 rules),
// against YAML 1.2 (js-yaml's core schema), and YAML the generator writes that kubectl reads back unchanged.
import { test } from "node:test";
import assert from "node:assert/strict";
import { dump } from "js-yaml";
import { KUBECTL_SAFE_DUMP_SCHEMA, parseKubernetesYaml, parseYaml, resolveV2 } from "../../mesh/yaml.ts";

// What yaml.v2's resolve() (resolve.go) makes of plain scalars: the table of special words, then by
// first character: Go's strconv.ParseInt(s, 0, 64) after dropping '_', then a YAML-style float.
const V2_TABLE: [string, unknown][] = [
  ["y", true], ["Y", true], ["yes", true], ["Yes", true], ["YES", true], ["on", true], ["On", true], ["ON", true],
  ["true", true], ["True", true], ["TRUE", true],
  ["n", false], ["N", false], ["no", false], ["No", false], ["NO", false], ["off", false], ["Off", false], ["OFF", false],
  ["false", false], ["False", false], ["FALSE", false],
  ["", null], ["~", null], ["null", null], ["Null", null], ["NULL", null],
  ["0777", 511], ["010", 8], ["0", 0], ["-0", 0], ["08", 8], ["1_000", 1000], ["0x1F", 31], ["0X1F", 31], ["0o17", 15], ["0b101", 5], ["-0b11", -3],
  ["+1", 1], ["1e3", 1000], ["1.", 1], [".5", 0.5], ["+.5", 0.5], [".inf", Infinity], ["-.Inf", -Infinity],
];
const V2_STRINGS = ["yep", "nope", "ok", "On2", "2024-01-01", "2024-01-01T10:00:00Z", "1:20", "v2", "x-route", "-", "0x", "1e", ".", "<<", "0o8"];

test("plain scalars resolve as yaml.v2 resolves them", () => {
  for (const [plain, value] of V2_TABLE) assert.deepEqual(resolveV2(plain), { value }, JSON.stringify(plain));
  for (const plain of V2_STRINGS) assert.equal(resolveV2(plain), undefined, `${JSON.stringify(plain)} stays a string`);
  assert.ok(Number.isNaN(resolveV2(".nan")!.value as number));
});

test("Kubernetes YAML is read as kubectl reads it; each difference from YAML 1.2 is reported with its path", () => {
  const text = [
    "apiVersion: extensions.istio.io/v1alpha1",
    "kind: WasmPlugin",
    "spec:",
    "  pluginConfig:",
    "    rules:",
    "      - match: { headers: { x-feature: { exact: on } } }",
    "        route: 'on'",
    "    mode: 0777",
    "    off: 1",
    "    date: 2024-01-01",
    "",
  ].join("\n");
  const { documents, differences } = parseKubernetesYaml(text, "t.yaml");
  const pc = (documents[0] as any).spec.pluginConfig;
  assert.equal(pc.rules[0].match.headers["x-feature"].exact, true, "unquoted on is the boolean true");
  assert.equal(pc.rules[0].route, "on", "quoted, a string");
  assert.equal(pc.mode, 511, "a leading 0 is octal");
  assert.equal(pc.false, 1, "the key off is the key false");
  assert.equal(pc.date, "2024-01-01", "timestamps stay strings");
  assert.deepEqual(differences.map((d) => d.path), [
    "spec.pluginConfig.rules[0].match.headers.x-feature.exact",
    "spec.pluginConfig.mode",
    "spec.pluginConfig.off",
  ]);
  assert.match(differences[0].message, /kubectl reads the boolean true here, not the string "on" .*quote it/);
  assert.match(differences[2].message, /the key "off" is the key "false" for kubectl/);
  // The same text read as a mesh input (YAML 1.2): strings, decimal, no Date objects.
  const yaml12 = (parseYaml(text, "t.yaml")[0] as any).spec.pluginConfig;
  assert.equal(yaml12.rules[0].match.headers["x-feature"].exact, "on");
  assert.equal(yaml12.mode, 777);
  assert.equal(yaml12.date, "2024-01-01");
});

test("strings the generator writes are read back unchanged by kubectl (every YAML 1.1 trap is quoted)", () => {
  const strings = [...V2_TABLE.map(([s]) => s), ...V2_STRINGS, "plain", "with space", "a: b", "#x"];
  const text = dump({ values: strings, keys: Object.fromEntries(strings.filter((s) => s !== "").map((s) => [s, s])) }, { schema: KUBECTL_SAFE_DUMP_SCHEMA, quotingType: '"', lineWidth: -1 });
  const { documents, differences } = parseKubernetesYaml(text, "dump.yaml");
  assert.deepEqual((documents[0] as any).values, strings);
  // (JS objects list integer-like keys such as "0" first: compare as sets.)
  assert.deepEqual(Object.keys((documents[0] as any).keys).sort(), strings.filter((s) => s !== "").sort());
  assert.deepEqual(differences, []);
});

test("a YAML syntax error names the file and line", () => {
  assert.throws(() => parseKubernetesYaml("a: [1, 2\nb: 3\n", "broken.yaml"), /^YamlError: broken\.yaml:\d+: invalid YAML: /);
});
