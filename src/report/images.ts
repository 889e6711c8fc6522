/**
 * The report's images: the gallery PNGs are made by the runner (src/campaign/gallery.ts, re-exported
 * here); the report only checks that a stored PNG is plain base64 before it puts it in a data: URL.
 */
export { galleryImage, galleryPositions, imageGeometry, itemPng, type ImageGeometry } from '../campaign/gallery.js';
export type { GalleryImage } from '../campaign/types.js';

/** True when `s` is plain base64 (safe to put in a data: URL attribute). */
export function isBase64(s: unknown): s is string {
  return typeof s === 'string' && s.length > 0 && s.length < 4_000_000 && /^[A-Za-z0-9+/]+={0,2}$/.test(s);
}
