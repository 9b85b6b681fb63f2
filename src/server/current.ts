/**
 * Which backend is running the current code. In PostgreSQL each backend is a
 * process with its own globals (MyProcPort, MyProcPid); here backends share
 * one process, so extension code finds "its" backend's connection through
 * async context.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ClientConnection } from '../connection.js';

export const currentBackend = new AsyncLocalStorage<ClientConnection>();
