// Preact with htm's tagged templates: components without a build step.
import { h, render } from "./vendor/preact.mjs";
import htm from "./vendor/htm.mjs";

export { render };
export {
  useCallback,
  useEffect,
  useMemo,
  useRef,
  useState,
} from "./vendor/hooks.mjs";
export const html = htm.bind(h);
