/**
 * Pages a logged-in user can walk without changing anything: same-origin links of the landing page,
 * without logout links, anything that names a side effect ("delete", "sign out"...), downloads and static
 * files. Pure; the caller then checks each page answers 2xx with the session.
 */
import type { HtmlLink } from '../scenario/html.js';

/** Links that end the session or change data when followed. */
const SIDE_EFFECT = /log[-_ ]?out|log[-_ ]?off|sign[-_ ]?out|sign[-_ ]?off|delete|remove|destroy|revoke|disable|unsubscribe|deactivate|cancel|reset|purge|drop|kill|terminate/i;
const STATIC = /\.(?:css|js|mjs|map|png|jpe?g|gif|svg|ico|webp|woff2?|ttf|eot|pdf|zip|gz|tar|csv|xlsx?|docx?|mp4|mp3|avi|dmg|exe)$/i;

export interface NavigationCandidates {
  /** Same-origin paths (with their query), in page order, without duplicates. */
  readonly paths: string[];
  /** Links left out because they end the session or change something. */
  readonly skipped: string[];
}

export function navigationCandidates(links: readonly HtmlLink[], pageUrl: string, exclude: ReadonlySet<string>): NavigationCandidates {
  const origin = new URL(pageUrl).origin;
  const paths: string[] = [];
  const skipped: string[] = [];
  for (const l of links) {
    const href = l.href.trim();
    if (href === '' || href.startsWith('#') || /^(?:javascript|mailto|tel|data):/i.test(href)) continue;
    let u: URL;
    try {
      u = new URL(href, pageUrl);
    } catch {
      continue;
    }
    if (u.origin !== origin || (u.protocol !== 'http:' && u.protocol !== 'https:')) continue;
    const path = u.pathname + u.search;
    // Rails' data-method (and the like) turns a link into a POST or DELETE: not a page to visit.
    if (SIDE_EFFECT.test(path) || SIDE_EFFECT.test(l.text) || (l.method !== null && l.method.toUpperCase() !== 'GET') || /[?&](?:action|method|_method)=/i.test(u.search)) {
      if (!skipped.includes(path)) skipped.push(path);
      continue;
    }
    if (STATIC.test(u.pathname) || exclude.has(u.pathname) || paths.includes(path)) continue;
    paths.push(path);
  }
  return { paths, skipped };
}
