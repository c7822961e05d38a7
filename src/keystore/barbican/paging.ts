// Barbican list paging: read limit/offset pages until the server stops
// sending `next`. castellan reads only the first page (10 items); we read all.
// Barbican's `next` link drops the query's filters (verified on 15.0.1:
// ?secret_type=symmetric&limit=1 → next = ?limit=1&offset=1), so only its
// offset is taken from it and the caller rebuilds the filtered query.

export interface Page<T> {
  readonly items: readonly T[];
  /** the `next` link, absent on the last page */
  readonly next?: string;
}

/** Barbican clamps limit to 1..100 (max_limit_paging). */
export const BARBICAN_PAGE_LIMIT = 100;

/** The offset a `next` link asks for; null when it has none usable. */
export function offsetOfNext(next: string): number | null {
  let u: URL;
  try {
    u = new URL(next, "http://barbican.invalid/");
  } catch {
    return null;
  }
  const raw = u.searchParams.get("offset");
  if (raw === null || !/^\d+$/.test(raw)) return null;
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * Every item of a paged listing, each key once (an item created while we page
 * can shift a later page by one). Stops when `next` is absent, when a page is
 * empty, or when the server's next offset does not move forward.
 */
export async function readAllPages<T>(
  fetchPage: (offset: number, limit: number) => Promise<Page<T>>,
  key: (item: T) => string,
  limit = BARBICAN_PAGE_LIMIT,
): Promise<T[]> {
  const out: T[] = [];
  const seen = new Set<string>();
  let offset = 0;
  for (;;) {
    const page = await fetchPage(offset, limit);
    for (const item of page.items) {
      const k = key(item);
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(item);
    }
    if (page.next === undefined || page.items.length === 0) return out;
    // A next link without an offset still means "more": continue after what we got.
    const nextOffset = offsetOfNext(page.next) ?? offset + page.items.length;
    if (nextOffset <= offset) return out;
    offset = nextOffset;
  }
}
