// A small drawing layer for trm's pictures (docs/VISUALS.md): the plots of `trm plot` and the
// step-by-step frames of `trm solve --render` are drawn once, against Canvas, and written as SVG
// (our own writer: plain elements, real <text>, one <g class="..."> per group) or rasterised by
// cairo into PNG and GIF. So the three formats show the same drawing from one code path.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace trm::viz {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};
std::string to_hex(Rgb c);  // "#rrggbb"

struct Point {
  double x = 0, y = 0;
};

enum class Align { kLeft, kCenter, kRight };

struct TextStyle {
  double size = 12;  // px
  Rgb color{};
  Align align = Align::kLeft;
  bool bold = false;
  bool monospace = false;
};

// Coordinates in pixels, origin top left, y down. Text is placed by its baseline.
class Canvas {
 public:
  virtual ~Canvas() = default;
  virtual void rect(double x, double y, double w, double h, Rgb fill) = 0;
  // The outline only, stroke centred on the edge.
  virtual void rect_outline(double x, double y, double w, double h, Rgb stroke, double width) = 0;
  virtual void line(Point a, Point b, Rgb stroke, double width, bool dashed = false) = 0;
  virtual void polyline(const std::vector<Point>& pts, Rgb stroke, double width, bool dashed = false) = 0;
  virtual void circle(Point c, double r, Rgb fill) = 0;
  virtual void text(Point baseline, const std::string& s, const TextStyle& style) = 0;
  // Groups nest; `cls` becomes the SVG group's class (tests count frames by it); raster ignores them.
  virtual void begin_group(const std::string& cls) = 0;
  virtual void end_group() = 0;
};

// A rough width of s in px at this size (DejaVu Sans averages ~0.6 em per character), for layout
// that must not depend on which backend draws (legend boxes, label placement).
double approx_text_width(const std::string& s, double size, bool monospace = false);

using Drawing = std::function<void(Canvas&)>;

// Image formats by the output path's extension (.svg, .png, .gif; case-insensitive). Throws
// trm::Error naming the path for any other extension, listing `allowed`.
enum class ImageFormat { kSvg, kPng, kGif };
ImageFormat image_format_for(const std::string& path, const std::vector<ImageFormat>& allowed);
std::string to_string(ImageFormat f);

// The drawing as an SVG document / PNG file bytes, width x height px (PNG: at `scale`, e.g. 2 for
// a sharper image).
std::string render_svg(int width, int height, const Drawing& draw);
std::string render_png(int width, int height, const Drawing& draw, double scale = 1.0);
// An animated GIF (looping), one frame per drawing, each shown delay_cs hundredths of a second
// (the last one last_delay_cs). Pixels are mapped to a fixed 256-colour palette (a 6x6x6 colour
// cube plus 40 greys), so frames need no per-image quantiser and stay comparable.
std::string render_gif(int width, int height, const std::vector<Drawing>& frames, int delay_cs, int last_delay_cs);

// The colour of a fixed-palette index and the index nearest to a colour (render_gif's palette).
Rgb gif_palette_color(int index);
int gif_palette_index(Rgb c);

}  // namespace trm::viz
