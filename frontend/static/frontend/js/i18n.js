// Language helpers for the page's scripts. Strings come from Django's JavaScript catalogue
// (/jsi18n/ defines gettext, ngettext, interpolate as globals before any module runs); dates
// and numbers are formatted by Intl in the page's language (<html lang>).

/** The page's language as a BCP 47 tag ("en", "zh-Hans"). */
export function lang() {
  return document.documentElement.lang || navigator.language || 'en';
}

/** gettext with named placeholders: t('%(n)s shots', {n: 3}). */
export function t(message, values) {
  const text = gettext(message);
  return values ? interpolate(text, values, true) : text;
}

/** Fill a plural form with the count (localised) and other values:
 *  nt(ngettext('%(count)s shot', '%(count)s shots', n), n). The ngettext call stays literal so
 *  makemessages finds both strings. */
export function nt(text, count, values = {}) {
  return interpolate(text, { count: formatNumber(count), ...values }, true);
}

const cache = new Map();
function cached(kind, options, make) {
  const key = `${kind}|${lang()}|${JSON.stringify(options)}`;
  if (!cache.has(key)) cache.set(key, make());
  return cache.get(key);
}

export function formatNumber(value, options = {}) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return '—';
  return cached('n', options, () => new Intl.NumberFormat(lang(), options)).format(Number(value));
}

export function formatPercent(fraction) {
  return formatNumber(Math.max(0, Math.min(1, Number(fraction) || 0)), { style: 'percent', maximumFractionDigits: 0 });
}

/** A date (Date, ISO string or yyyy-mm-dd) as the reader writes it. */
export function formatDate(value, options = { dateStyle: 'medium' }) {
  const date = toDate(value);
  if (!date) return '—';
  return cached('d', options, () => new Intl.DateTimeFormat(lang(), options)).format(date);
}

export function formatDateTime(value) {
  return formatDate(value, { dateStyle: 'medium', timeStyle: 'short' });
}

export function formatTime(value) {
  return formatDate(value, { timeStyle: 'short' });
}

/** "3 minutes ago", "yesterday", "刚刚"… in the page's language. */
export function relativeTime(value, now = Date.now()) {
  const date = toDate(value);
  if (!date) return '';
  const seconds = Math.round((date.getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return gettext('just now');
  const rtf = cached('r', {}, () => new Intl.RelativeTimeFormat(lang(), { numeric: 'auto' }));
  const steps = [
    [60, 'second', 1], [3600, 'minute', 60], [86400, 'hour', 3600], [86400 * 7, 'day', 86400],
    [86400 * 30, 'week', 86400 * 7], [86400 * 365, 'month', 86400 * 30], [Infinity, 'year', 86400 * 365],
  ];
  for (const [limit, unit, size] of steps) {
    if (abs < limit) return rtf.format(Math.round(seconds / size), unit);
  }
  return formatDate(date);
}

/** Calendar day label for grouping: "Today", "Yesterday" or the date. */
export function dayLabel(value, now = new Date()) {
  const date = toDate(value);
  if (!date) return '';
  const startOf = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((startOf(now) - startOf(date)) / 86400000);
  if (days === 0) return gettext('Today');
  if (days === 1) return gettext('Yesterday');
  return formatDate(date, { weekday: 'short', month: 'long', day: 'numeric', ...(date.getFullYear() !== now.getFullYear() ? { year: 'numeric' } : {}) });
}

export function toDate(value) {
  if (!value) return null;
  if (value instanceof Date) return value;
  // A bare yyyy-mm-dd is a calendar day, not midnight UTC.
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const date = m ? new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}
