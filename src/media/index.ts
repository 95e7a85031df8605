// The media layer of `soc segment`: inputs (videos, frame folders, images) decoded lazily,
// reference-exact resizing and normalisation, and the mask / overlay outputs.
export * from './ffmpeg.js';
export * from './output.js';
export * from './preprocess.js';
export * from './resize.js';
export * from './video-input.js';
