import assert from "node:assert/strict";
import {
  actionParams,
  canonicalJson,
  checkParams,
  checkRules,
  NodeParams,
  packParams,
  type ParamRule,
  type ParamSpec,
  parseParam,
} from "./params.ts";

const PACKAGES: ParamSpec = {
  kind: "list",
  split: "[ ,]+",
  empty: "must name at least one package",
  checks: [{ pattern: "^[a-z0-9][a-z0-9+.-]+$", message: "%s is not a name" }],
};
const NODES: ParamSpec = {
  kind: "list",
  split: ",",
  trim: true,
  checks: [{ pattern: "^[a-z0-9-]+$", message: "%s is not a node id" }],
};
const UNIT: ParamSpec = {
  kind: "text",
  checks: [
    { pattern: "^[\\s\\S]", message: "must not be empty" },
    { pattern: "^(?!-)", message: 'must not start with "-"' },
    { pattern: "^[A-Za-z0-9.@-]+$", message: "%s may only contain letters" },
  ],
};

type Row = [
  what: string,
  spec: ParamSpec,
  text: string,
  want: { value: unknown } | { message: string },
];

Deno.test("parseParam: every kind, accepted and refused", () => {
  const rows: Row[] = [
    ["plain text", { kind: "text" }, "anything at all", {
      value: "anything at all",
    }],
    ["text check passes", UNIT, "nginx.service", { value: "nginx.service" }],
    ["first failing check wins", UNIT, "-x/", {
      message: 'must not start with "-"',
    }],
    ["empty text", UNIT, "", { message: "must not be empty" }],
    ["%s is the text as JSON", UNIT, "a b", {
      message: '"a b" may only contain letters',
    }],
    ["list split, deduped, in order", PACKAGES, "nginx curl,nginx", {
      value: ["nginx", "curl"],
    }],
    ["list empty", PACKAGES, " , ", {
      message: "must name at least one package",
    }],
    ["list item refused", PACKAGES, "nginx Nginx", {
      message: '"Nginx" is not a name',
    }],
    ["list without trim keeps tabs", PACKAGES, "\tnginx", {
      message: '"\\tnginx" is not a name',
    }],
    ["list with trim", NODES, " a , b ", { value: ["a", "b"] }],
    ["list default message", { kind: "list" }, ",", {
      message: "must list at least one item",
    }],
    ["int", { kind: "int", min: 0, max: 10 }, " 7 ", { value: 7 }],
    ["int not whole", { kind: "int", min: 0, max: 10 }, "7.5", {
      message: '"7.5" is not a whole number',
    }],
    ["int out of range", { kind: "int", min: 1, max: 10 }, "0", {
      message: "must be between 1 and 10, got 0",
    }],
    ["number", { kind: "number", min: 0, max: 100 }, "12.5", { value: 12.5 }],
    [
      "number out of range, own words",
      {
        kind: "number",
        min: 0,
        max: 100,
        message: "must be a percentage, got %s",
      },
      "101",
      { message: 'must be a percentage, got "101"' },
    ],
    ["number not a number", { kind: "number", max: 100 }, "-1", {
      message: 'must be a number from 0 to 100, got "-1"',
    }],
    ["duration", { kind: "duration", max: 86_400_000 }, "1m30s", {
      value: 90_000,
    }],
    ["duration unreadable", { kind: "duration" }, "soon", {
      message: '"soon" is not a duration (use e.g. "500ms", "2s", "1m30s")',
    }],
    [
      "duration past max, own words",
      {
        kind: "duration",
        max: 86_400_000,
        message: "must be at most 24h",
      },
      "25h",
      { message: "must be at most 24h" },
    ],
    ["duration past max", { kind: "duration", max: 1000 }, "2s", {
      message: "must be at most 1s",
    }],
    ["enum", { kind: "enum", values: ["server", "agent"] }, "agent", {
      value: "agent",
    }],
    ["enum of two", { kind: "enum", values: ["server", "agent"] }, "x", {
      message: 'must be "server" or "agent"',
    }],
    ["enum of three", { kind: "enum", values: ["a", "b", "c"] }, "x", {
      message: 'must be one of "a", "b", "c"',
    }],
    ["a kind from a newer worker is not checked", { kind: "ipv6" }, "?", {
      value: "?",
    }],
  ];
  for (const [what, spec, text, want] of rows) {
    const r = parseParam(spec, text);
    if ("value" in want) {
      assert.deepEqual(r, { ok: true, value: want.value }, what);
    } else assert.deepEqual(r, { ok: false, message: want.message }, what);
  }
});

Deno.test("parseParam: a value that names a replacement pattern is quoted as is", () => {
  const r = parseParam(UNIT, "$&$'");
  assert.deepEqual(r, {
    ok: false,
    message: `"$&$'" may only contain letters`,
  });
});

const PIN: ParamRule = {
  kind: "count",
  when: "version",
  param: "package",
  min: 1,
  max: 1,
  path: "version",
  few: 'needs a "package" to pin',
  many: "pins one package, but %n were listed",
};
const SIZE: ParamRule = {
  kind: "product",
  of: [{ param: "lines" }, { param: "width", plus: 1 }],
  max: 100,
  path: "lines",
  message: "lines × (width + 1) must be at most 100",
};

Deno.test("checkRules: count and product, over parsed values", () => {
  const rows: [string, ParamRule, Record<string, unknown>, string[]][] = [
    ["no version: nothing to pin", PIN, { package: ["a", "b"] }, []],
    ["one package pinned", PIN, { version: "1", package: ["a"] }, []],
    ["nothing to pin", PIN, { version: "1" }, ['needs a "package" to pin']],
    ["too many", PIN, { version: "1", package: ["a", "b", "c"] }, [
      "pins one package, but 3 were listed",
    ]],
    ["within", SIZE, { lines: 9, width: 9 }, []],
    ["past", SIZE, { lines: 10, width: 10 }, [
      "lines × (width + 1) must be at most 100",
    ]],
    ["a factor not a number: not judged", SIZE, { lines: "x", width: 99 }, []],
    ["a rule from a newer worker", { kind: "xor", path: "a" }, { a: "1" }, []],
  ];
  for (const [what, rule, values, want] of rows) {
    assert.deepEqual(
      checkRules([rule], values).map((i) => i.message),
      want,
      what,
    );
  }
});

const INSTALL = {
  params: {
    package: PACKAGES,
    version: { kind: "text", optional: true } as ParamSpec,
  },
  rules: [PIN],
};
const OUTPUT = {
  params: {
    lines: { kind: "int", min: 0, max: 1000, default: 10 } as ParamSpec,
    width: { kind: "int", min: 0, max: 1000, default: 80 } as ParamSpec,
  },
  rules: [{
    ...SIZE,
    max: 1000,
    message: "lines × (width + 1) must be at most 1000",
  }],
};

Deno.test("checkParams: required, defaults, unknown params, then rules", () => {
  const rows: [
    string,
    typeof INSTALL | typeof OUTPUT,
    Record<string, unknown>,
    string[],
  ][] = [
    ["fine", INSTALL, { package: "nginx" }, []],
    ["required", INSTALL, {}, ["package: is required"]],
    ["not a string", INSTALL, { package: 3 }, ["package: must be a string"]],
    ["unknown param, with what is accepted", INSTALL, {
      package: "nginx",
      options: "-o x",
    }, [
      "options: is not a param of this action (accepted: package, version)",
    ]],
    ["every param's problem, in order", INSTALL, {
      package: "Nginx",
      extra: "1",
    }, [
      'package: "Nginx" is not a name',
      "extra: is not a param of this action (accepted: package, version)",
    ]],
    ["a rule", INSTALL, { package: "ab cd", version: "1" }, [
      "version: pins one package, but 2 were listed",
    ]],
    ["rules wait for the params to be fine", INSTALL, {
      package: "A b",
      version: "1",
    }, ['package: "A" is not a name']],
    ["defaults take part in rules", OUTPUT, { lines: "13" }, [
      "lines: lines × (width + 1) must be at most 1000",
    ]],
    ["defaults alone are fine", OUTPUT, {}, []],
    ["within", OUTPUT, { lines: "9", width: "9" }, []],
  ];
  for (const [what, ap, params, want] of rows) {
    assert.deepEqual(
      checkParams(ap, params).map((i) => `${i.param}: ${i.message}`),
      want,
      what,
    );
  }
  const none = { params: {} };
  assert.deepEqual(checkParams(none, { a: "1" }).map((i) => i.message), [
    "is not a param of this action (accepted: none)",
  ]);
});

Deno.test("packParams: each distinct param once; actionParams reads it back", () => {
  const np = packParams({
    systemd: {
      start: { params: { unit: UNIT } },
      stop: { params: { unit: UNIT } },
    },
    apt: { install: INSTALL, update: { params: {} } },
  });
  assert.equal(np.specs.length, 3, "unit, packages, version");
  assert.deepEqual(NodeParams.parse(JSON.parse(JSON.stringify(np))), np);
  assert.deepEqual(actionParams(np, "systemd", "stop"), {
    params: { unit: UNIT },
  });
  assert.deepEqual(actionParams(np, "apt", "install"), INSTALL);
  assert.equal(actionParams(np, "apt", "remove"), undefined);
  assert.equal(actionParams(np, "toString", "x"), undefined);
  // An index past the specs: known, not checked.
  const odd = { ...np, actions: { x: { y: { params: { p: 99 } } } } };
  assert.deepEqual(actionParams(odd, "x", "y"), {
    params: { p: { kind: "unchecked" } },
  });
});

Deno.test("NodeParams: a newer worker's fields pass, broken patterns do not", () => {
  const newer = {
    specs: [{ kind: "ipv6", family: "v6" }],
    actions: { net: { ping: { params: { host: 0 }, hints: {} } } },
  };
  assert.ok(NodeParams.safeParse(newer).success);
  const broken = {
    specs: [{ kind: "text", checks: [{ pattern: "([", message: "m" }] }],
    actions: {},
  };
  assert.ok(!NodeParams.safeParse(broken).success);
});

Deno.test("canonicalJson: the same content gives the same text", () => {
  assert.equal(
    canonicalJson({ b: [1, { d: 1, c: 2 }], a: "x", u: undefined }),
    canonicalJson({ a: "x", b: [1, { c: 2, d: 1 }] }),
  );
  assert.equal(canonicalJson({ b: 1, a: 2 }), '{"a":2,"b":1}');
});
