/** Data loading: one Dataset type, loaders for numpy, IDX, CSV, image folders and JSONL manifests. */
export {
  batches,
  datasetHash,
  itemId,
  itemSize,
  makeDataset,
  requireLabels,
  subset,
  type Batch,
  type Dataset,
  type DatasetInit,
  type ExtraArray,
} from './dataset.js';
export { loadDataset, detectKind, takeFirst, DATA_KINDS, type DataKind, type DataSpec } from './load.js';
export { readNpy, writeNpy, saveNpy, type NpyArray, type NpyArrayLike, type NpyData, type NpyNumericData } from './npy.js';
export {
  readNpz,
  writeNpz,
  saveNpz,
  loadNpz,
  loadNpy,
  datasetFromArrays,
  datasetToArrays,
  saveDatasetNpz,
  type NpzWriteOptions,
  type NpyLoadOptions,
} from './npz.js';
export { readZipEntries, readZipEntry, writeZip, type ZipEntry, type ZipInput, type ZipWriteOptions } from './zip.js';
export { readIdx, writeIdx, loadIdx, idxLabelsPathFor, type IdxArray, type IdxDtype, type IdxLoadOptions } from './idx.js';
export { loadCsv, parseCsv, csvRecords, type CsvOptions, type CsvRecord } from './csv.js';
export { resolveLabels } from './labels.js';
export { loadImageFolder, type ImageFolderOptions } from './images.js';
export { loadJsonl, type JsonlOptions } from './jsonl.js';
export {
  decodeImage,
  decodeImageFiles,
  probeImage,
  fillPlanes,
  type DecodeOptions,
  type DecodedImage,
  type DecodedImages,
  type ImageFile,
  type ImageHeader,
} from './decode.js';
