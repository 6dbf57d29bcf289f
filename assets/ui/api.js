// Talking to the service, and building DOM without ever parsing data as HTML.

const KEY = "distillguard.token";

export const token = () => sessionStorage.getItem(KEY);
export const signIn = (t) => sessionStorage.setItem(KEY, t.trim());
export const signOut = () => sessionStorage.removeItem(KEY);

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Calls the JSON API with the token; throws ApiError with the service's message. */
export async function api(path, { method = "GET", body, raw = false } = {}) {
  const headers = {};
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!resp.ok) {
    let message = resp.statusText;
    try {
      message = (await resp.json()).error || message;
    } catch {
      /* not JSON */
    }
    throw new ApiError(resp.status, message);
  }
  return raw ? resp.text() : resp.json();
}

/** An element with attributes (`on*` become listeners) and children (strings become text). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  return fill(node, attrs, children);
}

const SVG = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}, ...children) {
  return fill(document.createElementNS(SVG, tag), attrs, children);
}

function fill(node, attrs, children) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.setAttribute("class", v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** `2026-03-02T00:02:00Z` → `03-02 00:02`. */
export const short = (t) => (t ? t.slice(5, 16).replace("T", " ") : "");
export const num = (n) => (n ?? 0).toLocaleString("en");
export const score = (s) => (s ?? 0).toFixed(3);

export function pvalue(p) {
  if (p >= 0.01) return p.toFixed(2);
  return p.toExponential(0);
}

/** A status as a small coloured label. */
export const badge = (status) => el("span", { class: `badge ${status}` }, status);

/** Saves text as a file the browser downloads. */
export function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
