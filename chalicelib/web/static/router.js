// History-API routing: paths under /app/, links intercepted, the query string is the view state.
import { useEffect, useState } from "./lib.js";

const listeners = new Set();

export function navigate(to, { replace = false } = {}) {
  if (to === location.pathname + location.search) return;
  history[replace ? "replaceState" : "pushState"](null, "", to);
  listeners.forEach((fn) => fn());
  window.scrollTo(0, 0);
}

export function useLocation() {
  const [, setTick] = useState(0);
  useEffect(() => {
    const fn = () => setTick((t) => t + 1);
    listeners.add(fn);
    window.addEventListener("popstate", fn);
    return () => { listeners.delete(fn); window.removeEventListener("popstate", fn); };
  }, []);
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

export function interceptLinks() {
  document.addEventListener("click", (e) => {
    const a = e.target.closest && e.target.closest("a[href]");
    if (!a || a.target || a.hasAttribute("download") || e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || !url.pathname.startsWith("/app")) return;
    e.preventDefault();
    navigate(url.pathname + url.search);
  });
}

// "/app/workspaces/:ws/alerts/:id" against a path -> params or null
export function match(pattern, path) {
  const p = pattern.split("/"), s = path.replace(/\/$/, "").split("/");
  if (p.length !== s.length) return null;
  const params = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(":")) params[p[i].slice(1)] = decodeURIComponent(s[i]);
    else if (p[i] !== s[i]) return null;
  }
  return params;
}
