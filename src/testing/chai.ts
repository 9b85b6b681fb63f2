/**
 * A chai plugin for hook authors:
 *
 *   chai.use(pgAuthsimChai);
 *   expect(cluster.trace).to.have.hookCalls(['ERROR/ssl', 'ERROR/plain']);
 *   expect(cluster.trace).to.have.hookCalls(['EOF/ssl'], 'auth_delay');
 *   expect(cluster.trace).to.have.connectionCount(2);
 */
import { Trace, hookCallLabel } from './trace.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Chai {
    interface Assertion {
      hookCalls(expected: readonly string[], hook?: string): Assertion;
      connectionCount(expected: number): Assertion;
    }
  }
}

export const pgAuthsimChai: Chai.ChaiPlugin = (chai) => {
  chai.Assertion.addMethod('hookCalls', function (this: Chai.AssertionStatic, expected: readonly string[], hook?: string) {
    const trace = asTrace(this._obj);
    const actual = trace.hookCalls(hook).map(hookCallLabel);
    const same = actual.length === expected.length && actual.every((a, i) => a === expected[i]);
    const who = hook ? `${hook}'s hook` : 'ClientAuthentication_hook';
    this.assert(same, `expected ${who} calls #{exp} but got #{act}`, `expected ${who} calls not to be #{exp}`, [...expected], actual, true);
  });
  chai.Assertion.addMethod('connectionCount', function (this: Chai.AssertionStatic, expected: number) {
    const actual = asTrace(this._obj).connectionCount();
    this.assert(actual === expected, 'expected #{exp} connections but the server accepted #{act}', 'expected not #{exp} connections', expected, actual);
  });
};

function asTrace(o: unknown): Trace {
  if (o instanceof Trace) return o;
  if (o && typeof o === 'object' && 'trace' in o && (o as { trace: unknown }).trace instanceof Trace) return (o as { trace: Trace }).trace;
  throw new TypeError('hookCalls/connectionCount need a Trace (or an object with a .trace, like a TestCluster)');
}
