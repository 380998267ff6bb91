"""Streams images through a running Afterimage gateway with the official openai SDK (stream=True).

Usage: stream_check.py BASE_URL API_KEY IMAGE_PNG
A miss must yield partial images then a completed event; the same request again (a cache hit) must
yield only the completed event, with zero usage and cache_debug; an edit streams image_edit events.
"""
import base64
import sys

import openai


def main():
    base_url, api_key, image_path = sys.argv[1:4]
    client = openai.OpenAI(base_url=base_url + "/v1", api_key=api_key)
    prompt = "a paper boat on a puddle, streamed"

    events = list(client.images.generate(model="gpt-image-1", prompt=prompt, stream=True, partial_images=2, size="1024x1024"))
    types = [e.type for e in events]
    assert types == ["image_generation.partial_image", "image_generation.partial_image", "image_generation.completed"], types
    assert [e.partial_image_index for e in events[:2]] == [0, 1]
    completed = events[-1]
    assert base64.b64decode(completed.b64_json)[:8] == b"\x89PNG\r\n\x1a\n"
    assert completed.usage.output_tokens > 0, completed.usage
    assert completed.model_extra["extra_fields"]["cache_debug"]["cache_hit"] is False
    print("ok miss streamed partial and completed events")

    events = list(client.images.generate(model="gpt-image-1", prompt=prompt, stream=True, partial_images=2, size="1024x1024"))
    assert [e.type for e in events] == ["image_generation.completed"], [e.type for e in events]
    hit = events[0]
    assert hit.usage.output_tokens == 0 and hit.usage.input_tokens == 0, hit.usage
    debug = hit.model_extra["extra_fields"]["cache_debug"]
    assert debug["cache_hit"] is True and debug["hit_type"] == "direct", debug
    assert hit.b64_json == completed.b64_json
    print("ok hit replayed the completed event")

    with open(image_path, "rb") as image:
        events = list(client.images.edit(model="gpt-image-1", image=image, prompt="add a red kite", stream=True, partial_images=1))
    assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"], [e.type for e in events]
    print("ok edit streamed")
    print("stream checks passed")


if __name__ == "__main__":
    main()
