import { describe, expect, it } from "vitest";
import { SelectorError } from "../errors.js";
import { parseSelector, selectNodes } from "./selector.js";

const fleet = [
  { name: "web-1", tags: ["server", "eu"] },
  { name: "web-2", tags: ["server", "us"] },
  { name: "web-3", tags: ["server", "eu"] },
  { name: "db1", tags: ["server", "db", "eu"] },
  { name: "db2", tags: ["server", "db", "us"] },
  { name: "gpu-a", tags: ["ai", "gpu-large"] },
  { name: "gpu-b", tags: ["ai", "gpu-small"] },
  { name: "desk", tags: ["workstation"] },
];

const pick = (selector?: string) => selectNodes(fleet, selector).map((n) => n.name);

describe("selectNodes", () => {
  it("selects every node, in order, without a selector", () => {
    expect(pick()).toEqual(fleet.map((n) => n.name));
  });

  it.each([
    ["web-2", ["web-2"]],
    ["web-2,web-1", ["web-1", "web-2"]],
    ["@server", ["web-1", "web-2", "web-3", "db1", "db2"]],
    ["@ai,desk", ["gpu-a", "gpu-b", "desk"]],
    ["web-*", ["web-1", "web-2", "web-3"]],
    ["db?", ["db1", "db2"]],
    ["web-[13]", ["web-1", "web-3"]],
    ["@gpu-*", ["gpu-a", "gpu-b"]],
    ["@server&@eu", ["web-1", "web-3", "db1"]],
    ["@server&!@eu", ["web-2", "db2"]],
    ["@server,!web-3", ["web-1", "web-2", "db1", "db2"]],
    ["!web-3,@server", ["web-1", "web-2", "db1", "db2"]],
    ["!@server", ["gpu-a", "gpu-b", "desk"]],
    ["!@server,!desk", ["gpu-a", "gpu-b"]],
    ["@server&!@eu&!db*", ["web-2"]],
    ["!@eu&!@us", ["gpu-a", "gpu-b", "desk"]],
    [" @db , web-1 ", ["web-1", "db1", "db2"]],
    ["@server & @us", ["web-2", "db2"]],
    ["@ai,@gpu-*,gpu-a", ["gpu-a", "gpu-b"]],
    ["web-*&!web-1*", ["web-2", "web-3"]],
  ])("%s", (selector, expected) => {
    expect(pick(selector)).toEqual(expected);
  });

  it.each([
    ["a,,b", /term 2 is empty/],
    ["web-1,", /term 2 is empty/],
    [",web-1", /term 1 is empty/],
    ["", /it is empty/],
    ["   ", /it is empty/],
    ["@server&", /empty side of '&'/],
    ["!", /names no name/],
    ["@", /names no tag/],
    ["web 1", /not allowed/],
    ["$(id)", /not allowed/],
  ])("rejects %j", (selector, message) => {
    expect(() => pick(selector)).toThrow(SelectorError);
    expect(() => pick(selector)).toThrow(message);
  });

  it("names the closest tag for a mistyped tag", () => {
    expect(() => pick("@sever")).toThrow('no node or tag matches "@sever"; did you mean "@server"?');
  });

  it("names the closest node for a mistyped name", () => {
    expect(() => pick("web-4")).toThrow('no node or tag matches "web-4"; did you mean "web-1"?');
  });

  it("suggests the tag when a tag is written without @", () => {
    expect(() => pick("workstation")).toThrow('did you mean "@workstation"?');
  });

  it("suggests the exact tag over a similar node name (`web` with a tag web and a node web-1)", () => {
    const withWebTag = [...fleet, { name: "web-9", tags: ["web"] }];
    expect(() => selectNodes(withWebTag, "web")).toThrow('did you mean "@web"?');
  });

  it("rejects a negated atom that matches nothing, so a typo never widens a deploy", () => {
    expect(() => pick("@server,!web-33")).toThrow('no node or tag matches "!web-33"');
  });

  it("rejects a glob that matches nothing", () => {
    expect(() => pick("@gpu-x*")).toThrow(/no node or tag matches "@gpu-x\*"/);
  });

  it("rejects a selector whose terms exclude every node", () => {
    expect(() => pick("@ai&@server")).toThrow(/matches no node/);
  });

  it("parses into include terms and exclusions", () => {
    const parsed = parseSelector("@a&!b, c ,!@d");
    expect(parsed.include.map((t) => t.atoms.map((a) => a.text))).toEqual([["@a", "!b"], ["c"]]);
    expect(parsed.exclude.map((a) => a.text)).toEqual(["!@d"]);
    expect(parsed.include[0]!.atoms[1]).toMatchObject({ negated: true, kind: "name", pattern: "b", glob: false });
  });
});

describe("selectNodes by inventory role", () => {
  const withRoles = [
    { name: "cinnabar", tags: ["server"], roles: ["zerotier.controller", "zerotier.peer", "backup.server"] },
    { name: "stibnite", tags: ["desk"], roles: ["zerotier.peer", "backup.client"] },
    { name: "galena", tags: ["server"], roles: ["backup.client"] },
  ];
  const pickRole = (selector: string) => selectNodes(withRoles, selector).map((n) => n.name);

  it.each([
    ["%zerotier.controller", ["cinnabar"]],
    ["%zerotier.peer", ["cinnabar", "stibnite"]],
    ["%zerotier", ["cinnabar", "stibnite"]],
    ["%backup.*", ["cinnabar", "stibnite", "galena"]],
    ["%zerotier.peer&!%zerotier.controller", ["stibnite"]],
    ["%backup.client,@server", ["cinnabar", "stibnite", "galena"]],
    ["@server&%backup.client", ["galena"]],
    ["!%zerotier", ["galena"]],
  ])("%s", (selector, expected) => {
    expect(pickRole(selector)).toEqual(expected);
  });

  it("parses %service.role as its own kind, never as a tag or name with a dot", () => {
    expect(parseSelector("%zerotier.peer").include[0]!.atoms[0]).toMatchObject({ kind: "role", pattern: "zerotier.peer", glob: false });
    expect(parseSelector("%zerotier").include[0]!.atoms[0]).toMatchObject({ kind: "role", pattern: "zerotier.*", glob: true });
    expect(parseSelector("@zerotier.peer").include[0]!.atoms[0]).toMatchObject({ kind: "tag", pattern: "zerotier.peer" });
  });

  it.each([
    ["%", /names no role/],
    ["%a.b.c", /is not a role: write %service.role/],
    ["%.peer", /is not a role/],
    ["%zerotier.", /is not a role/],
  ])("rejects %j", (selector, message) => {
    expect(() => pickRole(selector)).toThrow(message);
  });

  it("names the closest role or service for a mistyped one", () => {
    expect(() => pickRole("%zerotier.contoller")).toThrow('no node has the role "%zerotier.contoller"; did you mean "%zerotier.controller"?');
    expect(() => pickRole("%zerotir")).toThrow('no node has the role "%zerotir"; did you mean "%zerotier"?');
    expect(() => pickRole("%cinnabar")).toThrow('did you mean "cinnabar"?');
  });

  it("selects nothing by role in a fleet without roles, saying so", () => {
    expect(() => selectNodes(fleet, "%zerotier.peer")).toThrow(/no node has the role "%zerotier.peer"/);
  });
});
