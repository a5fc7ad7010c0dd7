"""Reads a TensorBoard run folder with TensorBoard's own reader
(event_accumulator) and prints what it found as one JSON object:

    {"scalars": {tag: [[step, value], …]}, "images": {tag: [[step, width, height], …]},
     "hparams": {tag: HParamsPluginData as JSON}}

Every image is decoded whole by Pillow (a damaged PNG fails the script).
Used by Tests/EndToEnd/TensorBoardTests.swift:  python3 tensorboard_dump.py RUN_FOLDER
"""

import io
import json
import sys

from google.protobuf import json_format
from PIL import Image
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import plugin_data_pb2

accumulator = event_accumulator.EventAccumulator(sys.argv[1], size_guidance={event_accumulator.SCALARS: 0, event_accumulator.IMAGES: 0})
accumulator.Reload()
tags = accumulator.Tags()
images = {}
for tag in tags["images"]:
    images[tag] = []
    for event in accumulator.Images(tag):
        picture = Image.open(io.BytesIO(event.encoded_image_string))
        picture.load()
        assert picture.size == (event.width, event.height), (picture.size, event.width, event.height)
        images[tag].append([event.step, event.width, event.height])
scalars = {tag: [[e.step, e.value] for e in accumulator.Scalars(tag)] for tag in tags["scalars"]}
try:
    plugin = accumulator.PluginTagToContent("hparams")
except KeyError:
    plugin = {}
hparams = {tag: json_format.MessageToDict(plugin_data_pb2.HParamsPluginData.FromString(content)) for tag, content in plugin.items()}
print(json.dumps({"scalars": scalars, "images": images, "hparams": hparams}))
