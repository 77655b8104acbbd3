// Requests to the viewer's API: JSON replies, Arrow IPC tables, and one error type whose
// message is what the page shows.

export class ApiError extends Error {}

async function get(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== undefined && v !== null && v !== "") query.append(key, String(v));
    }
  }
  const url = query.toString() ? `${path}?${query}` : path;
  let reply;
  try {
    reply = await fetch(url);
  } catch (err) {
    throw new ApiError("the viewer does not answer (is mosaico ui still running?)");
  }
  if (!reply.ok) {
    let message = `${reply.status} ${reply.statusText}`;
    try {
      message = (await reply.json()).error || message;
    } catch (err) { /* not JSON: keep the status line */ }
    throw new ApiError(message);
  }
  return reply;
}

export async function json(path, params) {
  return (await get(path, params)).json();
}

// An Arrow IPC stream as an apache-arrow Table.
export async function arrow(path, params) {
  const reply = await get(path, params);
  const bytes = new Uint8Array(await reply.arrayBuffer());
  return { table: Arrow.tableFromIPC(bytes), bytes: bytes.byteLength };
}

export function frameUrl(sequence, topic, t) {
  const query = new URLSearchParams({ sequence, topic, t: String(t) });
  return `/api/frame?${query}`;
}
