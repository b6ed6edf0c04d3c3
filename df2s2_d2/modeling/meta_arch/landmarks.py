"""The five-landmark branch of DF2S2: its training loss and its decoding at inference.

Training follows RetinaFace: an anchor matched to a face as foreground regresses the
face's five points in RetinaFace's encoding (:mod:`df2s2_deploy.face_landmarks`), with
smooth L1 over the coordinates of the labelled points only; a face without landmarks
(every point not labelled) adds nothing. The sum is divided by the number of foreground
anchors whose face has a labelled point (RetinaFace's normaliser).

Inference is RetinaNet's (per level: score threshold, top-k, box decoding; class-wise
NMS; the detection cap), with the kept anchors' landmarks decoded alongside.
"""
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from detectron2.layers import batched_nms, cat
from detectron2.modeling.meta_arch.retinanet import permute_to_N_HWA_K
from detectron2.structures import Boxes, Instances, pairwise_iou

from df2s2_deploy.face_landmarks import NUM_LANDMARKS, decode_landmarks, encode_landmarks

# RetinaFace's smooth L1 (PyTorch's default beta), in the encoding's units.
LANDMARK_SMOOTH_L1_BETA = 1.0


def matched_landmarks(matcher, anchors: Boxes, instances: Instances) -> Tuple[Tensor, Tensor]:
    """The landmarks of each anchor's face, by RetinaNet's matcher.

    Returns (R, 5, 3) keypoints (x, y, v) of the matched face and an (R,) bool mask of the
    foreground anchors (all False without faces or without ``gt_keypoints``).
    """
    num_anchors = len(anchors)
    keypoints = torch.zeros(num_anchors, NUM_LANDMARKS, 3, device=anchors.device)
    foreground = torch.zeros(num_anchors, dtype=torch.bool, device=anchors.device)
    if len(instances) == 0 or not instances.has("gt_keypoints"):
        return keypoints, foreground
    matched_idxs, anchor_labels = matcher(pairwise_iou(instances.gt_boxes, anchors))
    return instances.gt_keypoints.tensor[matched_idxs], anchor_labels == 1


def landmark_loss(
    matcher, anchors: List[Boxes], pred_landmarks: List[Tensor], gt_instances: List[Instances]
) -> Tensor:
    """pred_landmarks: per level (N, A*10, H_l, W_l) -> the scalar loss."""
    anchors = Boxes.cat(anchors)
    pred = cat([permute_to_N_HWA_K(x, 2 * NUM_LANDMARKS) for x in pred_landmarks], dim=1)
    total, normaliser = pred.sum() * 0, 0
    for pred_image, instances in zip(pred, gt_instances):
        keypoints, foreground = matched_landmarks(matcher, anchors, instances)
        labelled = keypoints[..., 2] > 0  # (R, 5)
        foreground = foreground & labelled.any(dim=1)
        if not foreground.any():
            continue
        target = encode_landmarks(keypoints[foreground, :, :2], anchors.tensor[foreground])
        mask = labelled[foreground].repeat_interleave(2, dim=1)  # (F, 10): x and y of each point
        total = total + F.smooth_l1_loss(
            pred_image[foreground][mask], target[mask], beta=LANDMARK_SMOOTH_L1_BETA, reduction="sum"
        )
        normaliser += int(foreground.sum())
    return total / max(1, normaliser)


def inference_with_landmarks(
    model, anchors: List[Boxes], logits: List[Tensor], deltas: List[Tensor],
    landmarks: List[Tensor], image_size: Tuple[int, int],
) -> Instances:
    """One image's detections with ``pred_keypoints`` (N, 5, 3): x, y in the network
    input's pixels and the detection's score (the points have no score of their own).

    logits: per level (H_l*W_l*A, K); deltas: per level (.., 4); landmarks: per level
    (.., 10). ``model``: the RetinaNet whose test thresholds and box transform apply.
    """
    boxes_all, scores_all, classes_all, points_all = [], [], [], []
    for anchors_l, logits_l, deltas_l, landmarks_l in zip(anchors, logits, deltas, landmarks):
        scores = logits_l.sigmoid()
        keep = scores > model.test_score_thresh
        scores = scores[keep]
        candidates = torch.nonzero(keep)  # (M, 2) anchor, class
        scores, order = scores.topk(min(model.test_topk_candidates, len(candidates)))
        anchor_idxs, class_idxs = candidates[order].unbind(dim=1)
        kept_anchors = anchors_l.tensor[anchor_idxs]
        boxes_all.append(model.box2box_transform.apply_deltas(deltas_l[anchor_idxs], kept_anchors))
        points_all.append(decode_landmarks(landmarks_l[anchor_idxs], kept_anchors))
        scores_all.append(scores)
        classes_all.append(class_idxs)
    boxes, scores, classes, points = (cat(x) for x in (boxes_all, scores_all, classes_all, points_all))
    keep = batched_nms(boxes, scores, classes, model.test_nms_thresh)[: model.max_detections_per_image]
    result = Instances(image_size)
    result.pred_boxes = Boxes(boxes[keep])
    result.scores = scores[keep]
    result.pred_classes = classes[keep]
    point_scores = scores[keep][:, None, None].expand(-1, NUM_LANDMARKS, 1)
    result.pred_keypoints = torch.cat([points[keep], point_scores], dim=2)
    return result
