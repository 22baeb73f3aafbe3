// The layers of vpnlab, top to bottom: an import may point down this list (or
// within its own layer), never up. `npm run lint` fails on a cycle or an
// upward import. Tests, test kits, suites, benches and scripts sit on top and
// may import anything (a cycle is still refused).
const LAYERS = [
  ["cli", "^harness/(cli\\.ts$|cli/|doctor\\.ts$|gc\\.ts$|config\\.ts$|host-packages\\.ts$|catalog\\.ts$)"],
  ["report", "^harness/report/"],
  ["scenario", "^harness/(scenario|phase-state)\\.ts$"],
  ["lab", "^harness/(lab|capture)\\.ts$"],
  ["pieces", "^harness/(vpn|firewall|impair|agent|probe|sentinel)/"],
  ["runtime", "^harness/runtime/"],
  ["topology", "^harness/topology/"],
  ["host", "^harness/(host/|exec\\.ts$|wait\\.ts$|cleanup\\.ts$|native\\.ts$|pool\\.ts$)"],
];
const TESTS = "(\\.test\\.ts$|/testkit(\\.ts$|/)|\\.sandbox\\.ts$|^harness/native-fixture/)";

const upward = LAYERS.flatMap(([name, path], i) =>
  i === 0
    ? []
    : [
        {
          name: `no-upward-from-${name}`,
          comment: `${name} may import only the layers below it: ${LAYERS.slice(i + 1).map(([n]) => n).join(", ") || "nothing"}`,
          severity: "error",
          from: { path, pathNot: TESTS },
          to: { path: LAYERS.slice(0, i).map(([, p]) => `(${p})`).join("|"), pathNot: TESTS },
        },
      ],
);

module.exports = {
  forbidden: [
    { name: "no-cycles", severity: "error", comment: "a cycle makes load order matter and layers meaningless", from: {}, to: { circular: true } },
    {
      name: "layered-code-imports-no-tests",
      severity: "error",
      comment: "production code never depends on a test or a test kit",
      from: { path: "^harness/", pathNot: TESTS },
      to: { path: TESTS },
    },
    {
      name: "every-file-in-a-layer",
      severity: "error",
      comment: "a source file under harness/ that no layer names: add it to LAYERS in .dependency-cruiser.cjs",
      from: { path: "^harness/", pathNot: [TESTS, ...LAYERS.map(([, p]) => p)].map((p) => `(${p})`).join("|") },
      to: {},
    },
    ...upward,
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^dist/|^node_modules/|\\.d\\.ts$)" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    // type-only imports count: a type pulled from a higher layer couples the layers all the same
  },
};
