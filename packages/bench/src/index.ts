export { main } from './cli';
export { summarize } from './stats';
