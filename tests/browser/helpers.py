"""What the browser tests ask a page: is a chart really drawn."""

# Counts the canvas pixels that are not transparent: a chart drew something when it is > 0.
PAINTED_PIXELS_JS = """(figure) => {
  const canvas = figure.querySelector("canvas");
  if (!canvas) return 0;
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let alpha = 3; alpha < pixels.length; alpha += 4) if (pixels[alpha]) painted++;
  return painted;
}"""


def painted_pixels(figure) -> int:
    return figure.evaluate(PAINTED_PIXELS_JS)
