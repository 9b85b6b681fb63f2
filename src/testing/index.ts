/** The testing API for hook authors: an in-process cluster, its trace, and chai assertions. */
export { TestCluster, ClusterQueryResult, ClusterQueryError, type ClusterOptions, type ConfValue } from './cluster.js';
export { Trace, hookCallLabel, type HookCall } from './trace.js';
export { pgAuthsimChai } from './chai.js';
