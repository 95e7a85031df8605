// Plain records shared by the dataset readers. Pixels stay in typed arrays; turning them into
// tensors (and normalising, resizing) is the data pipeline's job, not the readers'.

/** An RGB frame: `data` is uint8 [height, width, 3], row-major, channels last (PIL `convert('RGB')`). */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * A single-channel mask: `data` is uint8 [height, width], row-major. Label maps hold object ids
 * (palette indices, 0 = background, 255 = void in DAVIS); binary masks hold 0 or 1.
 */
export interface Mask {
  width: number;
  height: number;
  data: Uint8Array;
}

/** One referring expression of a video (an entry of `meta_expressions.json`). */
export interface ReferringExpression {
  /** The `exp_id` key ("0", "1", …): predictions are written under this name. */
  id: string;
  /** The raw `exp` text; pipelines lowercase and collapse whitespace themselves. */
  text: string;
  /**
   * The referred objects in the dataset's own numbering (Ref-YouTube-VOS / Ref-DAVIS: the palette
   * value, from 1; MeViS: 0-based, palette value = id + 1). Null when the split has no object ids.
   */
  objIds: number[] | null;
}

/** A video of a Ref-YouTube-VOS-style layout: its frames in order and its expressions. */
export interface VideoRecord {
  id: string;
  /** Frame names without extension (`00000`), sorted as the reference sorts them. */
  frames: string[];
  expressions: ReferringExpression[];
}

/** Frames of one video with the ground truth of one expression, sizes checked against each other. */
export interface Clip {
  videoId: string;
  expressionId: string;
  frames: string[];
  images: RgbImage[];
  /** Binary union mask of the referred objects per frame. */
  masks: Mask[];
}
