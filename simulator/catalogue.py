"""The model catalogue: pipelines, models and price quotes as observed on the real
network, in three families (live video, built-in AI pipelines, BYOC capabilities).

The table is data; the tuples below it are the views the world draws from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

LIVE_PIPELINE: Final = "live-video-to-video"

LIVE: Final = "live"
BUILTIN: Final = "builtin"
BYOC: Final = "byoc"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    pipeline: str  # canonical pipeline, or the BYOC capability name
    model: str
    family: str  # LIVE, BUILTIN or BYOC
    quotes: tuple[int, ...]  # typical wei-per-unit quotes seen for this model
    popularity: float  # relative share of demand within its family
    fps: float = 0.0  # typical output FPS (live video only)
    job_ms: float = 0.0  # typical job duration (request pipelines only)


# family pipeline model popularity fps-or-job-ms quotes... (wei per unit). Prices and
# models follow a real capability snapshot; BYOC model names are invented.
_CATALOGUE: Final = """
live    live-video-to-video      streamdiffusion-sdxl                               0.55 15.5  2287 2287 2287 3000
live    live-video-to-video      streamdiffusion-sdxl-v2v                           0.20 13.5  2287 3000
live    live-video-to-video      streamdiffusion                                    0.13 17.0  2287
live    live-video-to-video      streamdiffusion-sdturbo                            0.12 18.5  2287
builtin text-to-image            SG161222/RealVisXL_V4.0_Lightning                  1.00 2200  4668371 2384185 4768371
builtin text-to-image            black-forest-labs/FLUX.1-dev                       0.40 6800  19073484
builtin text-to-image            ByteDance/SDXL-Lightning                           0.50 1600  2384185
builtin text-to-image            black-forest-labs/FLUX.1-schnell                   0.40 2900  8685284
builtin image-to-image           timbrooks/instruct-pix2pix                         0.30 2500  2384185
builtin image-to-video           stabilityai/stable-video-diffusion-img2vid-xt-1-1  0.15 42000 3390842 3905000
builtin upscale                  stabilityai/stable-diffusion-x4-upscaler           0.25 5200  8685284 2384185
builtin audio-to-text            openai/whisper-large-v3                            0.30 3100  12882811
builtin segment-anything-2       facebook/sam2-hiera-large                          0.15 900   1695421 2384185
builtin image-to-text            Salesforce/blip-image-captioning-large             0.10 700   4768371
builtin text-to-speech           parler-tts/parler-tts-large-v1                     0.10 4800  4768371 2384185
builtin llm                      meta-llama/Meta-Llama-3.1-8B-Instruct              1.20 1900  81964641 81964641 36428729
builtin llm                      glm-4.7-flash                                      0.60 1400  22767955
builtin llm                      llama3.2-vision                                    0.30 2600  40982320
builtin llm                      meta-llama/Llama-4-Scout-17B-16E-Instruct          0.30 3300  81964641
byoc    openai-chat-completions  gpt-4o-mini                                        1.00 1200  2500
byoc    openai-chat-completions  Qwen/Qwen2.5-7B-Instruct                           0.50 1500  2500
byoc    openai-text-embeddings   text-embedding-3-small                             0.60 180   1000
byoc    openai-image-generation  sdxl-turbo                                         0.30 3500  5000
"""  # noqa: E501


def _parse_catalogue(table: str) -> tuple[ModelSpec, ...]:
    specs = []
    for line in table.strip().splitlines():
        family, pipeline, model, popularity, figure, *quotes = line.split()
        live = family == LIVE
        specs.append(
            ModelSpec(
                pipeline,
                model,
                family,
                tuple(int(q) for q in quotes),
                float(popularity),
                fps=float(figure) if live else 0.0,
                job_ms=0.0 if live else float(figure),
            )
        )
    return tuple(specs)


CATALOGUE: Final = _parse_catalogue(_CATALOGUE)
LIVE_MODELS: Final = tuple(s for s in CATALOGUE if s.family == LIVE)
LLM_MODELS: Final = tuple(s for s in CATALOGUE if s.pipeline == "llm")
IMAGE_MODELS: Final = tuple(
    s for s in CATALOGUE if s.family == BUILTIN and s.pipeline != "llm"
)
BYOC_MODELS: Final = tuple(s for s in CATALOGUE if s.family == BYOC)

BUILTIN_MODELS: Final = IMAGE_MODELS + LLM_MODELS
REQUEST_MODELS: Final = BUILTIN_MODELS + BYOC_MODELS
