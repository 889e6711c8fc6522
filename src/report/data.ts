/**
 * The per-cell data the report shows beyond the metrics and the reliability / risk–coverage data:
 * a small image gallery, and annotation quality (per-annotator accuracy and the label audit's
 * flags). The runner builds them (src/campaign/gallery.ts `galleryItems`, for every cell whose items
 * are images; src/campaign/annotation-quality.ts `annotationQuality`, for cells with annotation
 * noise) and stores them as `CellResult.gallery` and `CellResult.annotation_quality`; the report
 * reads them back with `galleryOf` / `annotationQualityOf` and says "not available in this run"
 * when absent. The builders and types are re-exported here for the report's callers.
 */
import type { AnnotationQuality, GalleryItem } from '../campaign/types.js';

export type { AnnotationQuality, AnnotatorQuality, FlaggedLabel, GalleryItem } from '../campaign/types.js';
export { galleryItems, type GalleryInput } from '../campaign/gallery.js';
export { annotationQuality } from '../campaign/annotation-quality.js';

/** The gallery of a results.json cell (`gallery`), if the run stored one. */
export function galleryOf(cell: unknown): GalleryItem[] | null {
  const g = (cell as { gallery?: unknown } | null)?.gallery;
  return Array.isArray(g) && g.length ? (g as GalleryItem[]) : null;
}

/** The annotation quality of a results.json cell (`annotation_quality`), if the run stored one. */
export function annotationQualityOf(cell: unknown): AnnotationQuality | null {
  const a = (cell as { annotation_quality?: unknown } | null)?.annotation_quality;
  return a && typeof a === 'object' ? (a as AnnotationQuality) : null;
}
