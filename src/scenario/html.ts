/**
 * What a page holds for a user: its forms (with every input a browser would submit) and its links.
 * Parsed with htmlparser2 (entities decoded, tags and attribute names lower-cased), the one HTML parser of
 * the tool: hidden inputs for a login step (extract.ts) and the discovery of `init` both read it. Loaded
 * on first use: a run that reads no form never pays for it.
 */
import { createRequire } from 'node:module';

const requireCjs = createRequire(import.meta.url);
let htmlparser2Module: typeof import('htmlparser2') | null = null;
const htmlparser2 = (): typeof import('htmlparser2') => (htmlparser2Module ??= requireCjs('htmlparser2') as typeof import('htmlparser2'));

export interface HtmlInput {
  /** Lower-case type (`text` when absent); `<button>`s are `submit` unless they say otherwise, `<select>` and `<textarea>` keep their tag. */
  readonly type: string;
  readonly name: string | null;
  readonly value: string;
  readonly disabled: boolean;
  /** The `autocomplete` attribute (`username`, `current-password`, `new-password`...), lower-case. */
  readonly autocomplete: string;
  readonly id: string | null;
}

export interface HtmlForm {
  /** The action attribute as written (null: the form posts to its page). */
  readonly action: string | null;
  /** Upper-case method (GET when absent). */
  readonly method: string;
  readonly id: string | null;
  readonly inputs: HtmlInput[];
}

export interface HtmlLink {
  readonly href: string;
  /** The link's text, whitespace collapsed. */
  readonly text: string;
  /** `data-method` (Rails UJS), `hx-post` and the like make a link send another method; null: a GET. */
  readonly method: string | null;
}

export interface HtmlPage {
  readonly forms: HtmlForm[];
  /** Inputs outside every form (and not naming one with `form="id"`). */
  readonly looseInputs: HtmlInput[];
  readonly links: HtmlLink[];
  readonly title: string;
}

/** Parses a page once; inputs in HTML comments are not seen, as a browser does not see them. */
export function parseHtml(html: string): HtmlPage {
  const forms: (HtmlForm & { inputs: HtmlInput[] })[] = [];
  const looseInputs: HtmlInput[] = [];
  const links: HtmlLink[] = [];
  const byId = new Map<string, HtmlForm>();
  // Inputs that name their form with form="id" (possibly before the form itself).
  const byFormAttr: [string, HtmlInput][] = [];
  let current: HtmlForm | null = null;
  let link: { href: string; text: string; method: string | null } | null = null;
  let inTitle = false;
  let title = '';
  const add = (attrs: Record<string, string>, type: string): void => {
    const input: HtmlInput = {
      type,
      name: attrs['name'] ?? null,
      value: attrs['value'] ?? '',
      disabled: attrs['disabled'] !== undefined,
      autocomplete: (attrs['autocomplete'] ?? '').toLowerCase(),
      id: attrs['id'] ?? null,
    };
    if (attrs['form'] !== undefined) byFormAttr.push([attrs['form'], input]);
    else if (current !== null) current.inputs.push(input);
    else looseInputs.push(input);
  };
  const parser = new (htmlparser2().Parser)(
    {
      onopentag(name, attrs) {
        if (name === 'form') {
          current = { action: attrs['action'] ?? null, method: (attrs['method'] ?? 'get').toUpperCase(), id: attrs['id'] ?? null, inputs: [] };
          forms.push(current);
          if (current.id !== null) byId.set(current.id, current);
        } else if (name === 'input') add(attrs, (attrs['type'] ?? 'text').toLowerCase());
        else if (name === 'button') add(attrs, (attrs['type'] ?? 'submit').toLowerCase());
        else if (name === 'select' || name === 'textarea') add(attrs, name);
        else if (name === 'a' && attrs['href'] !== undefined) link = { href: attrs['href'], text: '', method: attrs['data-method'] ?? (attrs['hx-post'] !== undefined ? 'POST' : attrs['hx-delete'] !== undefined ? 'DELETE' : null) };
        else if (name === 'title') inTitle = true;
      },
      ontext(text) {
        if (link !== null) link.text += text;
        if (inTitle) title += text;
      },
      onclosetag(name) {
        if (name === 'form') current = null;
        else if (name === 'a' && link !== null) {
          links.push({ href: link.href, text: link.text.replace(/\s+/g, ' ').trim(), method: link.method });
          link = null;
        } else if (name === 'title') inTitle = false;
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.write(html);
  parser.end();
  for (const [id, input] of byFormAttr) {
    const form = byId.get(id);
    if (form !== undefined) (form.inputs as HtmlInput[]).push(input);
    else looseInputs.push(input);
  }
  return { forms, looseInputs, links, title: title.replace(/\s+/g, ' ').trim() };
}

/** True for a form with a password field. */
export const hasPasswordField = (f: HtmlForm): boolean => f.inputs.some((i) => i.type === 'password');

/** The path a form posts to, resolved against its page; null when the action is not a URL. */
export function formActionPath(form: HtmlForm, pageUrl: string): string | null {
  try {
    return new URL(form.action ?? '', pageUrl).pathname;
  } catch {
    return null;
  }
}
