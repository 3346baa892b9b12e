import type { Document } from "../Document.ts"
import { type DocFilter, drop, keep } from "./Filter.ts"

/**
 * datatrove's pipeline/filters/url_filter.py with user-supplied lists only (`use_integrated_lists=False`): the
 * integrated blocklists ship as a tarball inside datatrove and are not bundled here. Reason strings and the order
 * of checks are datatrove's: domain, subdomain, url, hard_blacklisted, soft_blacklisted, blacklisted_subword.
 *
 * datatrove finds the registered domain with tldextract (the public suffix list); without that list this takes
 * the last two labels, or three when the last two are a common second-level suffix (co.uk, com.au, …).
 */
export interface URLFilterOptions {
  readonly blockedDomains?: Iterable<string>
  readonly blockedUrls?: Iterable<string>
  readonly bannedWords?: Iterable<string>
  readonly bannedSubwords?: Iterable<string>
  readonly softBannedWords?: Iterable<string>
  readonly softWordThreshold?: number
}

const NON_ALNUM = /[^a-zA-Z0-9]+/g
const normalize = (s: string) => s.replace(NON_ALNUM, "").toLowerCase()
// parse_list skips entries starting with "#"; normalizing lists are the word lists.
const parseList = (xs: Iterable<string> | undefined, norm: boolean): Set<string> =>
  new Set(Array.from(xs ?? []).filter((x) => x.length > 0 && x[0] !== "#").map((x) => (norm ? normalize(x) : x.trim())))

const SECOND_LEVEL = new Set(["co", "com", "net", "org", "gov", "edu", "ac", "ne", "or", "go"])

const hostOf = (url: string): string => {
  try {
    return new URL(url.includes("://") ? url : `http://${url}`).hostname.toLowerCase()
  } catch {
    return ""
  }
}

export const registeredDomain = (host: string): string => {
  const labels = host.split(".").filter((l) => l.length > 0)
  if (labels.length <= 2) return labels.join(".")
  const n = SECOND_LEVEL.has(labels[labels.length - 2]!) && labels[labels.length - 1]!.length === 2 ? 3 : 2
  return labels.slice(-n).join(".")
}

export const URLFilter = (options: URLFilterOptions = {}): DocFilter => {
  const domains = parseList(options.blockedDomains, false)
  const urls = parseList(options.blockedUrls, false)
  const banned = parseList(options.bannedWords, true)
  const subwords = Array.from(parseList(options.bannedSubwords, true))
  const soft = parseList(options.softBannedWords, true)
  const threshold = options.softWordThreshold ?? 2
  return {
    id: "url",
    filter: (doc: Document) => {
      const url = doc.metadata["url"]
      // datatrove asserts; a document without a url cannot be judged, and is dropped with a reason saying so.
      if (typeof url !== "string" || url.length === 0) return drop("missing_url")
      const host = hostOf(url)
      if (domains.has(registeredDomain(host))) return drop("domain")
      if (domains.has(host)) return drop("subdomain")
      if (urls.has(url)) return drop("url")
      const words = new Set(url.split(/[^a-zA-Z0-9]+/))
      for (const w of banned) if (words.has(w)) return drop("hard_blacklisted")
      let nSoft = 0
      for (const w of soft) if (words.has(w)) nSoft++
      if (nSoft >= threshold) return drop("soft_blacklisted")
      const normalized = normalize(url)
      if (subwords.some((w) => normalized.includes(w))) return drop("blacklisted_subword")
      return keep(doc)
    }
  }
}
