// The two Canvas backends (include/trm/viz/canvas.h): an SVG writer of our own, and cairo image
// surfaces for PNG (cairo's PNG writer) and GIF (giflib, after mapping to a fixed palette).
#include "trm/viz/canvas.h"

#include <cairo.h>
#include <gif_lib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "trm/error.h"

namespace trm::viz {

std::string to_hex(Rgb c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c.r, c.g, c.b);
  return buf;
}

double approx_text_width(const std::string& s, double size, bool monospace) {
  // Counts code points, not bytes (a UTF-8 run name is still one glyph per character).
  double n = 0;
  for (unsigned char ch : s) n += (ch & 0xC0) != 0x80;
  return n * size * (monospace ? 0.61 : 0.58);
}

std::string to_string(ImageFormat f) {
  switch (f) {
    case ImageFormat::kSvg: return "svg";
    case ImageFormat::kPng: return "png";
    case ImageFormat::kGif: return "gif";
  }
  return "?";
}

ImageFormat image_format_for(const std::string& path, const std::vector<ImageFormat>& allowed) {
  const auto dot = path.find_last_of('.');
  const auto slash = path.find_last_of('/');
  std::string ext;
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) ext = path.substr(dot + 1);
  for (char& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  std::string names;
  for (ImageFormat f : allowed) {
    if (ext == to_string(f)) return f;
    names += (names.empty() ? "." : ", .") + to_string(f);
  }
  throw Error(path + ": unknown image format '" + (ext.empty() ? "(no extension)" : "." + ext) +
              "'; the file name must end in " + names);
}

namespace {

// ---- SVG -------------------------------------------------------------------------------------

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default:
        // Control characters are not allowed in XML 1.0: a run name cannot break the document.
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t') out += ' ';
        else out += ch;
    }
  }
  return out;
}

class SvgCanvas final : public Canvas {
 public:
  SvgCanvas(int w, int h) {
    out_ = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
           std::to_string(w) + "\" height=\"" + std::to_string(h) + "\" viewBox=\"0 0 " + std::to_string(w) + " " +
           std::to_string(h) + "\" font-family=\"DejaVu Sans, Verdana, sans-serif\">\n";
  }
  void rect(double x, double y, double w, double h, Rgb fill) override {
    out_ += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w) + "\" height=\"" + num(h) +
            "\" fill=\"" + to_hex(fill) + "\"/>\n";
  }
  void rect_outline(double x, double y, double w, double h, Rgb stroke, double width) override {
    out_ += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w) + "\" height=\"" + num(h) +
            "\" fill=\"none\" stroke=\"" + to_hex(stroke) + "\" stroke-width=\"" + num(width) + "\"/>\n";
  }
  void line(Point a, Point b, Rgb stroke, double width, bool dashed) override {
    out_ += "<line x1=\"" + num(a.x) + "\" y1=\"" + num(a.y) + "\" x2=\"" + num(b.x) + "\" y2=\"" + num(b.y) +
            "\"" + stroke_attrs(stroke, width, dashed) + "/>\n";
  }
  void polyline(const std::vector<Point>& pts, Rgb stroke, double width, bool dashed) override {
    if (pts.empty()) return;
    out_ += "<polyline fill=\"none\" points=\"";
    // Appended piece by piece: GCC 12 raises a false -Wrestrict on a chained string "+".
    for (std::size_t i = 0; i < pts.size(); ++i) {
      if (i) out_ += ' ';
      out_.append(num(pts[i].x)).append(1, ',').append(num(pts[i].y));
    }
    out_.append("\"").append(stroke_attrs(stroke, width, dashed)).append(" stroke-linejoin=\"round\"/>\n");
  }
  void circle(Point c, double r, Rgb fill) override {
    out_ += "<circle cx=\"" + num(c.x) + "\" cy=\"" + num(c.y) + "\" r=\"" + num(r) + "\" fill=\"" + to_hex(fill) +
            "\"/>\n";
  }
  void text(Point p, const std::string& s, const TextStyle& st) override {
    out_ += "<text x=\"" + num(p.x) + "\" y=\"" + num(p.y) + "\" font-size=\"" + num(st.size) + "\" fill=\"" +
            to_hex(st.color) + "\"";
    if (st.align != Align::kLeft) out_ += st.align == Align::kCenter ? " text-anchor=\"middle\"" : " text-anchor=\"end\"";
    if (st.bold) out_ += " font-weight=\"bold\"";
    if (st.monospace) out_ += " font-family=\"DejaVu Sans Mono, monospace\"";
    out_.append(">").append(xml_escape(s)).append("</text>\n");
  }
  void begin_group(const std::string& cls) override {
    out_ += "<g class=\"" + xml_escape(cls) + "\">\n";
    ++depth_;
  }
  void end_group() override {
    if (depth_ == 0) throw InternalError("SvgCanvas: end_group without begin_group");
    out_ += "</g>\n";
    --depth_;
  }
  std::string finish() {
    while (depth_ > 0) end_group();
    return out_ + "</svg>\n";
  }

 private:
  static std::string stroke_attrs(Rgb c, double w, bool dashed) {
    return " stroke=\"" + to_hex(c) + "\" stroke-width=\"" + num(w) + "\"" +
           (dashed ? " stroke-dasharray=\"" + num(3 * w + 2) + "," + num(2 * w + 2) + "\"" : std::string());
  }
  std::string out_;
  int depth_ = 0;
};

// ---- cairo -----------------------------------------------------------------------------------

struct SurfaceDeleter {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextDeleter {
  void operator()(cairo_t* c) const { cairo_destroy(c); }
};
using Surface = std::unique_ptr<cairo_surface_t, SurfaceDeleter>;
using Context = std::unique_ptr<cairo_t, ContextDeleter>;

class CairoCanvas final : public Canvas {
 public:
  explicit CairoCanvas(cairo_t* cr) : cr_(cr) {}
  void rect(double x, double y, double w, double h, Rgb fill) override {
    set(fill);
    cairo_rectangle(cr_, x, y, w, h);
    cairo_fill(cr_);
  }
  void rect_outline(double x, double y, double w, double h, Rgb stroke, double width) override {
    set(stroke);
    cairo_set_line_width(cr_, width);
    cairo_set_dash(cr_, nullptr, 0, 0);
    cairo_rectangle(cr_, x, y, w, h);
    cairo_stroke(cr_);
  }
  void line(Point a, Point b, Rgb stroke, double width, bool dashed) override {
    polyline({a, b}, stroke, width, dashed);
  }
  void polyline(const std::vector<Point>& pts, Rgb stroke, double width, bool dashed) override {
    if (pts.empty()) return;
    set(stroke);
    cairo_set_line_width(cr_, width);
    cairo_set_line_join(cr_, CAIRO_LINE_JOIN_ROUND);
    const double dash[2] = {3 * width + 2, 2 * width + 2};
    cairo_set_dash(cr_, dashed ? dash : nullptr, dashed ? 2 : 0, 0);
    cairo_move_to(cr_, pts[0].x, pts[0].y);
    for (std::size_t i = 1; i < pts.size(); ++i) cairo_line_to(cr_, pts[i].x, pts[i].y);
    cairo_stroke(cr_);
    cairo_set_dash(cr_, nullptr, 0, 0);
  }
  void circle(Point c, double r, Rgb fill) override {
    set(fill);
    cairo_new_sub_path(cr_);
    cairo_arc(cr_, c.x, c.y, r, 0, 2 * M_PI);
    cairo_fill(cr_);
  }
  void text(Point p, const std::string& s, const TextStyle& st) override {
    set(st.color);
    cairo_select_font_face(cr_, st.monospace ? "DejaVu Sans Mono" : "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                           st.bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr_, st.size);
    double x = p.x;
    if (st.align != Align::kLeft) {
      cairo_text_extents_t e;
      cairo_text_extents(cr_, s.c_str(), &e);
      x -= st.align == Align::kCenter ? e.x_advance / 2 : e.x_advance;
    }
    cairo_move_to(cr_, x, p.y);
    cairo_show_text(cr_, s.c_str());
    cairo_new_path(cr_);
  }
  void begin_group(const std::string&) override {}
  void end_group() override {}

 private:
  void set(Rgb c) { cairo_set_source_rgb(cr_, c.r / 255.0, c.g / 255.0, c.b / 255.0); }
  cairo_t* cr_;
};

// An image surface with the drawing on a white background; throws InternalError if cairo fails
// (out of memory: the sizes here are bounded by the callers).
Surface draw_image(int width, int height, const Drawing& draw, double scale) {
  const int w = std::max(1, static_cast<int>(std::lround(width * scale)));
  const int h = std::max(1, static_cast<int>(std::lround(height * scale)));
  Surface surface(cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h));
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
    throw Error("cannot create a " + std::to_string(w) + "x" + std::to_string(h) + " image: " +
                cairo_status_to_string(cairo_surface_status(surface.get())));
  Context cr(cairo_create(surface.get()));
  cairo_set_source_rgb(cr.get(), 1, 1, 1);
  cairo_paint(cr.get());
  cairo_scale(cr.get(), scale, scale);
  CairoCanvas canvas(cr.get());
  draw(canvas);
  if (cairo_status(cr.get()) != CAIRO_STATUS_SUCCESS)
    throw InternalError(std::string("cairo: ") + cairo_status_to_string(cairo_status(cr.get())));
  cairo_surface_flush(surface.get());
  return surface;
}

cairo_status_t append_to_string(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

int append_gif_bytes(GifFileType* gif, const GifByteType* data, int length) {
  static_cast<std::string*>(gif->UserData)->append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(length));
  return length;
}

void gif_check(int status, GifFileType* gif, const char* what) {
  if (status != GIF_OK)
    throw InternalError(std::string("giflib: ") + what + ": " + (GifErrorString(gif->Error) ? GifErrorString(gif->Error) : "?"));
}

}  // namespace

std::string render_svg(int width, int height, const Drawing& draw) {
  SvgCanvas canvas(width, height);
  canvas.rect(0, 0, width, height, {255, 255, 255});
  draw(canvas);
  return canvas.finish();
}

std::string render_png(int width, int height, const Drawing& draw, double scale) {
  Surface surface = draw_image(width, height, draw, scale);
  std::string out;
  const cairo_status_t st = cairo_surface_write_to_png_stream(surface.get(), append_to_string, &out);
  if (st != CAIRO_STATUS_SUCCESS) throw InternalError(std::string("cairo PNG writer: ") + cairo_status_to_string(st));
  return out;
}

// Indices 0..215: the colour cube, level k of a channel = 51k; 216..255: 40 greys 255k/41 (none of
// them one of the cube's own greys 0, 51, ... 255), for antialiased edges and text.
Rgb gif_palette_color(int i) {
  if (i < 216) {
    return {static_cast<std::uint8_t>(51 * (i / 36)), static_cast<std::uint8_t>(51 * (i / 6 % 6)),
            static_cast<std::uint8_t>(51 * (i % 6))};
  }
  const auto v = static_cast<std::uint8_t>(std::lround(255.0 * (i - 215) / 41));
  return {v, v, v};
}

int gif_palette_index(Rgb c) {
  auto level = [](int v) { return (v + 25) / 51; };
  const int cube = 36 * level(c.r) + 6 * level(c.g) + level(c.b);
  auto dist = [&](Rgb p) {
    const int dr = p.r - c.r, dg = p.g - c.g, db = p.b - c.b;
    return dr * dr + dg * dg + db * db;
  };
  const int grey_value = (c.r + c.g + c.b) / 3;
  const int grey = std::clamp(static_cast<int>(std::lround(grey_value * 41.0 / 255)), 1, 40) + 215;
  return dist(gif_palette_color(grey)) < dist(gif_palette_color(cube)) ? grey : cube;
}

std::string render_gif(int width, int height, const std::vector<Drawing>& frames, int delay_cs, int last_delay_cs) {
  if (frames.empty()) throw InternalError("render_gif: no frames");
  std::string out;
  int err = 0;
  GifFileType* gif = EGifOpen(&out, append_gif_bytes, &err);
  if (!gif) throw InternalError(std::string("giflib: EGifOpen: ") + (GifErrorString(err) ? GifErrorString(err) : "?"));
  struct Closer {
    GifFileType* g;
    ~Closer() {
      if (g) EGifCloseFile(g, nullptr);
    }
  } closer{gif};
  GifColorType colors[256];
  for (int i = 0; i < 256; ++i) {
    const Rgb c = gif_palette_color(i);
    colors[i] = {c.r, c.g, c.b};
  }
  ColorMapObject* cmap = GifMakeMapObject(256, colors);
  if (!cmap) throw InternalError("giflib: GifMakeMapObject failed");
  EGifSetGifVersion(gif, true);  // GIF89a: the frame delays and the loop need it
  const int screen = EGifPutScreenDesc(gif, width, height, 8, 0, cmap);
  GifFreeMapObject(cmap);  // EGifPutScreenDesc keeps its own copy
  gif_check(screen, gif, "screen descriptor");
  // NETSCAPE2.0 application extension: loop forever.
  gif_check(EGifPutExtensionLeader(gif, APPLICATION_EXT_FUNC_CODE), gif, "loop extension");
  gif_check(EGifPutExtensionBlock(gif, 11, "NETSCAPE2.0"), gif, "loop extension");
  const unsigned char loop[3] = {1, 0, 0};
  gif_check(EGifPutExtensionBlock(gif, 3, loop), gif, "loop extension");
  gif_check(EGifPutExtensionTrailer(gif), gif, "loop extension");
  std::vector<GifPixelType> row(static_cast<std::size_t>(width));
  for (std::size_t f = 0; f < frames.size(); ++f) {
    GraphicsControlBlock gcb{};
    gcb.DisposalMode = DISPOSE_DO_NOT;
    gcb.UserInputFlag = false;
    gcb.DelayTime = f + 1 == frames.size() ? last_delay_cs : delay_cs;
    gcb.TransparentColor = NO_TRANSPARENT_COLOR;
    GifByteType ext[4];
    EGifGCBToExtension(&gcb, ext);
    gif_check(EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, 4, ext), gif, "frame delay");
    Surface surface = draw_image(width, height, frames[f], 1.0);
    gif_check(EGifPutImageDesc(gif, 0, 0, width, height, false, nullptr), gif, "image descriptor");
    const unsigned char* data = cairo_image_surface_get_data(surface.get());
    const int stride = cairo_image_surface_get_stride(surface.get());
    for (int y = 0; y < height; ++y) {
      const auto* px = reinterpret_cast<const std::uint32_t*>(data + static_cast<std::ptrdiff_t>(y) * stride);
      for (int x = 0; x < width; ++x) {
        const std::uint32_t v = px[x];  // CAIRO_FORMAT_RGB24: 0x00RRGGBB in native byte order
        row[static_cast<std::size_t>(x)] = static_cast<GifPixelType>(gif_palette_index(
            {static_cast<std::uint8_t>(v >> 16), static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)}));
      }
      gif_check(EGifPutLine(gif, row.data(), width), gif, "pixels");
    }
  }
  closer.g = nullptr;
  if (EGifCloseFile(gif, &err) != GIF_OK)
    throw InternalError(std::string("giflib: EGifCloseFile: ") + (GifErrorString(err) ? GifErrorString(err) : "?"));
  return out;
}

}  // namespace trm::viz
