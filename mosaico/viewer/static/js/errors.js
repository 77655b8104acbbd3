// The page's error banner: every failure a page meets is shown here, as its message.
import { ApiError } from "./api.js";

const banner = () => document.getElementById("error");

export function showError(err) {
  const message = err instanceof ApiError ? err.message : `unexpected error in the page: ${err}`;
  banner().textContent = message;
  banner().hidden = false;
  if (!(err instanceof ApiError)) console.error(err);
}

export function clearError() {
  banner().hidden = true;
  banner().textContent = "";
}
