import { homeLayout, resolveHome, type HomeLayout } from '../state/home.js';

export interface GlobalOptions {
  readonly home?: string;
  readonly config?: string;
}

export function layoutFrom(options: GlobalOptions): HomeLayout {
  return homeLayout(resolveHome(options.home), options.config);
}
