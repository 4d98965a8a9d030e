/**
 * Which form of a page is the login form, and what a browser posts with it: the username and password
 * fields, every hidden field (CSRF tokens and the like) and the other fields with their defaults. Pure.
 */
import { formActionPath, type HtmlForm, type HtmlInput, type HtmlPage } from '../scenario/html.js';

export interface LoginForm {
  /** Absolute URL the form posts to. */
  readonly actionUrl: string;
  /** The action attribute as written; null: the form posts to its own page. */
  readonly actionWritten: string | null;
  readonly method: string;
  readonly usernameField: string | null;
  readonly passwordField: string;
  /** Hidden fields by name (sent from the page each login: `hiddenInputs: true`). */
  readonly hidden: readonly string[];
  /** The hidden fields that look like CSRF tokens. */
  readonly csrf: readonly string[];
  /** Other fields a browser sends as they are (a named submit button, a tenant select...). */
  readonly extra: readonly (readonly [string, string])[];
  /** Why this form: for the finding. */
  readonly why: string;
}

const TEXT_TYPES = new Set(['text', 'email', 'tel', '']);
const USERNAME_NAME = /user|login|email|mail|account|ident|name/i;
const CSRF_NAME = /csrf|xsrf|token|authenticity|verification|nonce|__requestverification/i;

const passwords = (f: HtmlForm): HtmlInput[] => f.inputs.filter((i) => i.type === 'password' && i.name !== null && !i.disabled);

/**
 * The login form of a page: of the forms with a password field, one with exactly one (a sign-up or
 * change-password form has two or three) whose password is not a `new-password`; null when there is none.
 */
export function findLoginForm(page: HtmlPage, pageUrl: string): LoginForm | null {
  const withPassword = page.forms.filter((f) => passwords(f).length > 0);
  if (withPassword.length === 0) return null;
  const score = (f: HtmlForm): number => {
    const pw = passwords(f);
    let s = 0;
    if (pw.length === 1) s += 4;
    if (pw[0]!.autocomplete === 'current-password') s += 2;
    if (pw.some((p) => p.autocomplete === 'new-password')) s -= 3;
    if (f.method === 'POST') s += 1;
    if (/log\s*-?in|sign\s*-?in|session|auth/i.test(f.action ?? '')) s += 1;
    return s;
  };
  const form = [...withPassword].sort((a, b) => score(b) - score(a))[0]!;
  const password = passwords(form)[0]!;
  const texts = form.inputs.filter((i) => TEXT_TYPES.has(i.type) && i.name !== null && !i.disabled);
  const username =
    texts.find((i) => i.autocomplete === 'username' || i.autocomplete === 'email') ?? texts.find((i) => USERNAME_NAME.test(i.name!)) ?? texts[0] ?? null;
  const hidden = [...new Set(form.inputs.filter((i) => i.type === 'hidden' && i.name !== null && !i.disabled).map((i) => i.name!))];
  const extra: [string, string][] = [];
  let submitSeen = false;
  for (const i of form.inputs) {
    if (i.name === null || i.disabled || i === username || i.type === 'password' || i.type === 'hidden') continue;
    if (extra.some(([n]) => n === i.name)) continue;
    // A browser sends the submit button it was clicked with (the first here), and checked boxes only.
    if (i.type === 'submit') {
      if (!submitSeen) extra.push([i.name, i.value]);
      submitSeen = true;
      continue;
    }
    if (['checkbox', 'radio', 'button', 'reset', 'file', 'image'].includes(i.type)) continue;
    extra.push([i.name, i.value]);
  }
  let actionUrl: string;
  try {
    actionUrl = new URL(form.action ?? '', pageUrl).href;
  } catch {
    actionUrl = pageUrl;
  }
  const others = withPassword.length - 1;
  const why =
    `the ${withPassword.length === 1 ? 'only form' : 'form'} with a password field on ${new URL(pageUrl).pathname}` +
    (others > 0 ? ` (${others} other form${others > 1 ? 's' : ''} with password fields set aside: more than one password field or a new-password)` : '') +
    `, posting to ${formActionPath(form, pageUrl) ?? actionUrl}`;
  return {
    actionUrl,
    actionWritten: form.action,
    method: form.method,
    usernameField: username?.name ?? null,
    passwordField: password.name!,
    hidden,
    csrf: hidden.filter((n) => CSRF_NAME.test(n)),
    extra,
    why,
  };
}
