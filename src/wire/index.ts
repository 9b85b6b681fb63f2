/** The wire layer: message values, their codec, and the incremental reader. */
export * from './codec.js';
export * from './reader.js';
