// The vendored UMD globals (loaded by classic <script> tags before this module) as module exports.
const { h, render, Fragment, cloneElement } = window.preact;
export const { useState, useEffect, useMemo, useRef, useCallback } = window.preactHooks;
export const html = window.htm.bind(h);
export { h, render, Fragment, cloneElement };
export const uPlot = window.uPlot;
