"""The evaluators a config asks for (``TEST.EVALUATORS``)."""
from detectron2.data import MetadataCatalog
from detectron2.evaluation import COCOEvaluator, DatasetEvaluators

from .face_photo_evaluator import FacePhotoEvaluator
from .landmark_evaluator import FaceLandmarkEvaluator
from .wider_face_evaluator import WiderFaceEvaluator


def build_face_evaluator(cfg, dataset_name: str, output_folder: str) -> DatasetEvaluators:
    """WIDER FACE (official protocol), COCO and / or landmark NME evaluation of
    ``dataset_name``; a set of real photos (evaluator type ``face_photos``) gets its box AP
    at IoU 0.5 and 0.3 instead of the WIDER FACE protocol."""
    evaluators = []
    metadata = MetadataCatalog.get(dataset_name)
    if metadata.get("evaluator_type") == "face_photos":
        return DatasetEvaluators([FacePhotoEvaluator(dataset_name, output_dir=output_folder)])
    if "wider_face" in cfg.TEST.EVALUATORS:
        if metadata.get("evaluator_type") != "wider_face":
            raise ValueError(f"{dataset_name} has no WIDER FACE evaluation ground truth")
        evaluators.append(WiderFaceEvaluator(dataset_name, output_dir=output_folder))
    if "coco" in cfg.TEST.EVALUATORS:
        evaluators.append(COCOEvaluator(dataset_name, output_dir=output_folder))
    if "landmarks" in cfg.TEST.EVALUATORS:
        if not metadata.get("keypoint_names"):
            raise ValueError(
                f"{dataset_name} has no landmarks (no 'keypoint_names' in its metadata): "
                "TEST.EVALUATORS 'landmarks' needs a dataset of RetinaFace labels, such as "
                "synth_faces_val_landmarks"
            )
        evaluators.append(FaceLandmarkEvaluator(dataset_name, output_dir=output_folder))
    if not evaluators:
        raise ValueError(f"TEST.EVALUATORS names no known evaluator: {cfg.TEST.EVALUATORS}")
    return DatasetEvaluators(evaluators)
