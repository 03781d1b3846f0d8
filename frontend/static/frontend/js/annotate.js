// Vector drawings over a frame. Shapes are stored the way the API takes them
// ({"tool","color","width","points"} with x, y in 0..1 of the frame), so a drawing made on a
// laptop lands on the same spot on a 4K screen. A shape's width is in 1/400ths of the frame
// height, for the same reason.

export const TOOLS = ['pen', 'arrow', 'rect', 'ellipse', 'line'];
export const COLORS = ['#ff3b30', '#ffcc00', '#34c759', '#0a84ff', '#bf5af2', '#ffffff'];
export const DEFAULT_WIDTH = 3;
const WIDTH_UNIT = 1 / 400;
const MAX_POINTS = 4000; // the API allows 5000 per annotation
const PEN_MIN_STEP = 0.002; // skip pen points closer than this (in frame units)

function clamp01(v) {
  return Math.min(1, Math.max(0, v));
}

function round5(v) {
  return Math.round(v * 1e5) / 1e5;
}

/** Stroke width in CSS pixels for a shape drawn on a frame `height` pixels high. */
export function strokePx(width, height) {
  return Math.max(1, (width || DEFAULT_WIDTH) * WIDTH_UNIT * height);
}

function drawArrowHead(ctx, x0, y0, x1, y1, lineWidth) {
  const angle = Math.atan2(y1 - y0, x1 - x0);
  const length = Math.hypot(x1 - x0, y1 - y0);
  const head = Math.min(Math.max(10, lineWidth * 4.5), length * 0.6 || 10);
  ctx.beginPath();
  ctx.moveTo(x1, y1);
  ctx.lineTo(x1 - head * Math.cos(angle - Math.PI / 7), y1 - head * Math.sin(angle - Math.PI / 7));
  ctx.lineTo(x1 - head * Math.cos(angle + Math.PI / 7), y1 - head * Math.sin(angle + Math.PI / 7));
  ctx.closePath();
  ctx.fill();
}

/** Draw one shape on a context whose drawing area is `w`×`h` CSS pixels. */
export function drawShape(ctx, shape, w, h) {
  const pts = (shape.points || []).map(([x, y]) => [x * w, y * h]);
  if (!pts.length) return;
  const lineWidth = strokePx(shape.width, h);
  ctx.save();
  ctx.strokeStyle = shape.color || COLORS[0];
  ctx.fillStyle = shape.color || COLORS[0];
  ctx.lineWidth = lineWidth;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  // A thin dark halo keeps a stroke readable on both bright skies and dark water.
  ctx.shadowColor = 'rgba(0, 0, 0, 0.55)';
  ctx.shadowBlur = Math.max(2, lineWidth);
  const [x0, y0] = pts[0];
  const [x1, y1] = pts[pts.length - 1];
  ctx.beginPath();
  switch (shape.tool) {
    case 'pen':
      if (pts.length === 1) {
        ctx.arc(x0, y0, lineWidth / 2, 0, Math.PI * 2);
        ctx.fill();
        break;
      }
      ctx.moveTo(x0, y0);
      for (let i = 1; i < pts.length - 1; i += 1) {
        const [xm, ym] = [(pts[i][0] + pts[i + 1][0]) / 2, (pts[i][1] + pts[i + 1][1]) / 2];
        ctx.quadraticCurveTo(pts[i][0], pts[i][1], xm, ym);
      }
      ctx.lineTo(x1, y1);
      ctx.stroke();
      break;
    case 'rect':
      ctx.strokeRect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
      break;
    case 'ellipse':
      ctx.ellipse((x0 + x1) / 2, (y0 + y1) / 2, Math.abs(x1 - x0) / 2, Math.abs(y1 - y0) / 2, 0, 0, Math.PI * 2);
      ctx.stroke();
      break;
    case 'arrow':
    case 'line':
      ctx.moveTo(x0, y0);
      ctx.lineTo(x1, y1);
      ctx.stroke();
      if (shape.tool === 'arrow') drawArrowHead(ctx, x0, y0, x1, y1, lineWidth);
      break;
    default:
      break;
  }
  ctx.restore();
}

/**
 * A canvas laid exactly over the displayed frame. In "view" mode it shows a saved drawing;
 * after setTool() it records the person's strokes as shapes.
 */
export class Annotator extends EventTarget {
  constructor(canvas) {
    super();
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.tool = null; // null: not drawing
    this.color = COLORS[0];
    this.width = DEFAULT_WIDTH;
    this.shapes = []; // the drawing being made
    this.shown = []; // a saved drawing on display
    this.active = null;
    this.cssWidth = 0;
    this.cssHeight = 0;
    this._onDown = this._onDown.bind(this);
    this._onMove = this._onMove.bind(this);
    this._onUp = this._onUp.bind(this);
    canvas.addEventListener('pointerdown', this._onDown);
    canvas.addEventListener('pointermove', this._onMove);
    canvas.addEventListener('pointerup', this._onUp);
    canvas.addEventListener('pointercancel', this._onUp);
    this._observer = new ResizeObserver(() => this.fit());
    this._observer.observe(canvas);
    this.fit();
  }

  /** Match the canvas's backing store to its displayed size (and the screen's pixel ratio). */
  fit() {
    const rect = this.canvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    this.cssWidth = rect.width;
    this.cssHeight = rect.height;
    const w = Math.max(1, Math.round(rect.width * ratio));
    const h = Math.max(1, Math.round(rect.height * ratio));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    this.ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    this.render();
  }

  setTool(tool) {
    this.tool = TOOLS.includes(tool) ? tool : null;
    this.canvas.classList.toggle('is-drawing', Boolean(this.tool));
    this.dispatchEvent(new CustomEvent('toolchange', { detail: { tool: this.tool } }));
  }

  setColor(color) {
    this.color = color;
  }

  /** Show a saved drawing (read-only); pass null to hide it. */
  show(annotation) {
    this.shown = (annotation && Array.isArray(annotation.shapes)) ? annotation.shapes : [];
    this.render();
  }

  get hasDrawing() {
    return this.shapes.length > 0;
  }

  /** The drawing being made, as the API takes it, or null when there is none. */
  annotation() {
    if (!this.shapes.length) return null;
    return {
      shapes: this.shapes.map((s) => ({
        tool: s.tool, color: s.color, width: s.width, points: s.points.map(([x, y]) => [round5(x), round5(y)]),
      })),
    };
  }

  undo() {
    this.shapes.pop();
    this.render();
    this._changed();
  }

  clear() {
    this.shapes = [];
    this.active = null;
    this.render();
    this._changed();
  }

  render() {
    const { ctx, cssWidth: w, cssHeight: h } = this;
    ctx.clearRect(0, 0, w, h);
    for (const shape of this.shown) drawShape(ctx, shape, w, h);
    for (const shape of this.shapes) drawShape(ctx, shape, w, h);
    if (this.active) drawShape(ctx, this.active, w, h);
  }

  _changed() {
    this.dispatchEvent(new CustomEvent('change', { detail: { count: this.shapes.length } }));
  }

  _point(event) {
    const rect = this.canvas.getBoundingClientRect();
    return [clamp01((event.clientX - rect.left) / rect.width), clamp01((event.clientY - rect.top) / rect.height)];
  }

  _pointCount() {
    return this.shapes.reduce((n, s) => n + s.points.length, 0) + (this.active ? this.active.points.length : 0);
  }

  _onDown(event) {
    if (!this.tool || event.button !== 0) return;
    event.preventDefault();
    this.canvas.setPointerCapture(event.pointerId);
    const p = this._point(event);
    this.active = { tool: this.tool, color: this.color, width: this.width, points: this.tool === 'pen' ? [p] : [p, p] };
    this.dispatchEvent(new CustomEvent('drawstart'));
    this.render();
  }

  _onMove(event) {
    if (!this.active) return;
    const p = this._point(event);
    const pts = this.active.points;
    if (this.active.tool === 'pen') {
      const last = pts[pts.length - 1];
      if (Math.hypot(p[0] - last[0], p[1] - last[1]) < PEN_MIN_STEP || this._pointCount() >= MAX_POINTS) return;
      pts.push(p);
    } else {
      pts[1] = p;
    }
    this.render();
  }

  _onUp() {
    if (!this.active) return;
    const shape = this.active;
    this.active = null;
    const [a, b] = [shape.points[0], shape.points[shape.points.length - 1]];
    const tiny = Math.hypot(b[0] - a[0], b[1] - a[1]) < 0.004;
    // A click without a drag makes a dot with the pen and nothing with the other tools.
    if (!(tiny && shape.tool !== 'pen')) this.shapes.push(shape);
    this.render();
    this._changed();
  }
}
