/** The hub: a read-only web dashboard and JSON API over the run registry (see server.ts). */
export { startHub, isLoopback, type Hub, type HubOptions } from './server.js';
export { historyChart } from './chart.js';
