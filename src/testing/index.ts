/** The testing API for hook authors: an in-process cluster, its trace, and chai assertions. */
export { TestCluster, ClusterQueryResult, ClusterQueryError, connectRequestFromUrl, type ClusterOptions, type ConfValue, type ClientConnectOptions, type PsqlConnectOptions } from './cluster.js';
export { WireClient, WireClientBase, login, codecDecoder, type BackendDecoder, type LoginOptions } from './wire-client.js';
export { Trace, hookCallLabel, type HookCall } from './trace.js';
export { pgAuthsimChai } from './chai.js';
