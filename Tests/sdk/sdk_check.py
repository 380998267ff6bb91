"""Drives a running Afterimage gateway with the official openai SDK, changing only base_url and api_key.

Usage: sdk_check.py BASE_URL API_KEY IMAGE_PNG MASK_PNG
Exits non-zero (with the failing check) when anything is off.
"""
import base64
import struct
import sys
import urllib.request

import openai


def png_size(data: bytes):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def check_item(item, response_format, expected_size=None):
    if response_format == "b64_json":
        assert item.b64_json, "b64_json missing"
        data = base64.b64decode(item.b64_json)
    else:
        assert item.url and "/v1/images/files/" in item.url, f"unexpected url {item.url!r}"
        with urllib.request.urlopen(item.url) as answer:
            assert answer.headers["Content-Type"] == "image/png"
            data = answer.read()
    size = png_size(data)
    if expected_size:
        assert size == expected_size, f"size {size} != {expected_size}"


def check_extra(response, request_type, cache_hit=False):
    extra = response.to_dict()["extra_fields"]
    assert extra["request_type"] == request_type, extra
    assert extra["cache_debug"]["cache_hit"] is cache_hit, extra


def main():
    base_url, api_key, image_path, mask_path = sys.argv[1:5]
    client = openai.OpenAI(base_url=base_url + "/v1", api_key=api_key, max_retries=0)

    result = client.images.generate(model="gpt-image-1", prompt="a watercolor fox", size="1024x1536")
    check_item(result.data[0], "b64_json", (1024, 1536))
    check_extra(result, "image_generation")
    print("ok generate b64_json")

    hit = client.images.generate(model="gpt-image-1", prompt="A watercolor fox!", size="1024x1536", response_format="url")
    check_item(hit.data[0], "url", (1024, 1536))
    check_extra(hit, "image_generation", cache_hit=True)
    assert hit.to_dict()["extra_fields"]["cache_debug"]["hit_type"] == "direct"
    assert hit.usage is None or hit.usage.output_tokens == 0, hit.usage
    print("ok cache hit served as url")

    result = client.images.generate(model="gpt-image-1", prompt="a watercolor fox", response_format="url", n=2)
    assert len(result.data) == 2
    for item in result.data:
        check_item(item, "url", (1024, 1024))
    print("ok generate url (GPT image model)")

    result = client.images.generate(model="dall-e-3", prompt="a tiny robot", response_format="url")
    check_item(result.data[0], "url", (1024, 1024))
    assert result.data[0].revised_prompt, "revised_prompt kept"
    print("ok generate url (dall-e-3)")

    with open(image_path, "rb") as image, open(mask_path, "rb") as mask:
        result = client.images.edit(model="gpt-image-1", image=image, mask=mask, prompt="add a red hat")
    check_item(result.data[0], "b64_json", (256, 256))
    check_extra(result, "image_edit")
    print("ok edit b64_json with mask")

    with open(image_path, "rb") as image, open(mask_path, "rb") as mask:
        result = client.images.edit(model="dall-e-2", image=image, mask=mask, prompt="add a red hat", response_format="url", size="256x256")
    check_item(result.data[0], "url", (256, 256))
    print("ok edit url with mask")

    with open(image_path, "rb") as first, open(image_path, "rb") as second:
        result = client.images.edit(model="gpt-image-1", image=[first, second], prompt="merge them")
    check_item(result.data[0], "b64_json")
    print("ok edit with image[]")

    try:
        openai.OpenAI(base_url=base_url + "/v1", api_key="sk-af-wrong", max_retries=0).images.generate(model="gpt-image-1", prompt="x")
        raise AssertionError("a wrong key was accepted")
    except openai.AuthenticationError as error:
        assert error.status_code == 401
        assert error.body["code"] == "unauthorized", error.body
    print("ok wrong key -> AuthenticationError")

    try:
        client.images.generate(model="dall-e-3", prompt="x", size="640x480")
        raise AssertionError("a bad size was accepted")
    except openai.BadRequestError as error:
        assert error.body["param"] == "size", error.body
    print("ok bad size -> BadRequestError")
    print("sdk checks passed")


if __name__ == "__main__":
    main()
