// A Host for unit tests: each test gives the verbs it uses; any other verb fails the test loudly.
import type { Node } from "../../src/config/normalize.js";
import type { Host } from "../../src/host/host.js";

export function fakeHost(node: Node, verbs: Partial<Omit<Host, "node">>): Host {
  const unused = (verb: string) => () => {
    throw new Error(`fake host ${node.name}: ${verb} is not expected in this test`);
  };
  return {
    node,
    connect: verbs.connect ?? (async () => ({ latencyMs: 3 })),
    close: verbs.close ?? (() => {}),
    facts: verbs.facts ?? unused("facts"),
    lock: verbs.lock ?? unused("lock"),
    copyClosure: verbs.copyClosure ?? unused("copyClosure"),
    buildOnNode: verbs.buildOnNode ?? unused("buildOnNode"),
    activate: verbs.activate ?? unused("activate"),
    recordEvent: verbs.recordEvent ?? unused("recordEvent"),
    exec: verbs.exec ?? unused("exec"),
    run: verbs.run ?? unused("run"),
    runAsRoot: verbs.runAsRoot ?? unused("runAsRoot"),
    runAsRootOnNewConnection: verbs.runAsRootOnNewConnection ?? unused("runAsRootOnNewConnection"),
  };
}
