#!/usr/bin/env python3
"""Writes data-manifests/medmnist/*.yaml (12 MedMNIST 2D sets x sizes 28/64/128/224, from
MedMNIST v3.0.2 medmnist/info.py, Zenodo record 10519652) and data-manifests/papers/*.yaml
(the SH-PEFT and FPT+ datasets as image-folder manifests). Run: python3 scripts/make_manifests.py"""
import os

ROOT = os.path.join(os.path.dirname(__file__), "..", "data-manifests")
CITE = ("Yang, J., Shi, R., Wei, D., et al.: MedMNIST v2 - A large-scale lightweight benchmark for 2D and 3D "
        "biomedical image classification. Scientific Data 10, 41 (2023)")
MED = {  # flag: (modality, task, channels, (train, val, test), licence, labels, md5 28/64/128/224)
    "pathmnist": ("pathology", "multi-class", 3, (89996, 10004, 7180), "CC BY 4.0",
                  ["adipose", "background", "debris", "lymphocytes", "mucus", "smooth muscle", "normal colon mucosa",
                   "cancer-associated stroma", "colorectal adenocarcinoma epithelium"],
                  ["a8b06965200029087d5bd730944a56c1", "55aa9c1e0525abe5a6b9d8343a507616", "ac42d08fb904d92c244187169d1fd1d9", "2c51a510bcdc9cf8ddb2af93af1eadec"]),
    "chestmnist": ("chest x-ray", "multi-label", 1, (78468, 11219, 22433), "CC BY 4.0",
                   ["atelectasis", "cardiomegaly", "effusion", "infiltration", "mass", "nodule", "pneumonia", "pneumothorax",
                    "consolidation", "edema", "emphysema", "fibrosis", "pleural", "hernia"],
                   ["02c8a6516a18b556561a56cbdd36c4a8", "9de6cd0b934ebb5b7426cfba5efbae16", "db107e5590b27930b62dbaf558aebee3", "45bd33e6f06c3e8cdb481c74a89152aa"]),
    "dermamnist": ("dermoscopy", "multi-class", 3, (7007, 1003, 2005), "CC BY-NC 4.0",
                   ["actinic keratoses and intraepithelial carcinoma", "basal cell carcinoma", "benign keratosis-like lesions",
                    "dermatofibroma", "melanoma", "melanocytic nevi", "vascular lesions"],
                   ["0744692d530f8e62ec473284d019b0c7", "b70a2f5635c6199aeaa28c31d7202e1f", "2defd784463fa5243564e855ed717de1", "8974907d8e169bef5f5b96bc506ae45d"]),
    "octmnist": ("oct", "multi-class", 1, (97477, 10832, 1000), "CC BY 4.0",
                 ["choroidal neovascularization", "diabetic macular edema", "drusen", "normal"],
                 ["c68d92d5b585d8d81f7112f81e2d0842", "e229e9440236b774d9f0dfef9d07bdaf", "0a97e76651ace45c5d943ee3f65b63ae", "abc493b6d529d5de7569faaef2773ba3"]),
    "pneumoniamnist": ("chest x-ray", "binary", 1, (4708, 524, 624), "CC BY 4.0", ["normal", "pneumonia"],
                       ["28209eda62fecd6e6a2d98b1501bb15f", "8f4eceb4ccffa70c672198ea285246c6", "05b46931834c231683c68f40c47b2971", "d6a3c71de1b945ea11211b03746c1fe1"]),
    "retinamnist": ("fundus", "multi-class", 3, (1080, 120, 400), "CC BY 4.0", ["0", "1", "2", "3", "4"],
                    ["bd4c0672f1bba3e3a89f0e4e876791e4", "afda852cc34dcda56f86ad2b2457dbcc", "e48e916a24454daf90583d4e6efb1a18", "eae7e3b6f3fcbda4ae613ebdcbe35348"]),
    "breastmnist": ("ultrasound", "binary", 1, (546, 78, 156), "CC BY 4.0", ["malignant", "normal, benign"],
                    ["750601b1f35ba3300ea97c75c52ff8f6", "742edef2a1fd1524b2efff4bd7ba9364", "363e4b3f8d712e9b5de15470a2aaadf1", "b56378a6eefa9fed602bb16d192d4c8b"]),
    "bloodmnist": ("microscopy", "multi-class", 3, (11959, 1712, 3421), "CC BY 4.0",
                   ["basophil", "eosinophil", "erythroblast", "immature granulocytes", "lymphocyte", "monocyte", "neutrophil", "platelet"],
                   ["7053d0359d879ad8a5505303e11de1dc", "2b94928a2ae4916078ca51e05b6b800b", "adace1e0ed228fccda1f39692059dd4c", "b718ff6835fcbdb22ba9eacccd7b2601"]),
    "tissuemnist": ("microscopy", "multi-class", 1, (165466, 23640, 47280), "CC BY 4.0",
                    ["collecting duct, connecting tubule", "distal convoluted tubule", "glomerular endothelial cells",
                     "interstitial endothelial cells", "leukocytes", "podocytes", "proximal tubule segments", "thick ascending limb"],
                    ["ebe78ee8b05294063de985d821c1c34b", "123ece2eba09d0aa5d698fda57103344", "61b955355d7425a89687b06cca3ce0c2", "b077128c4a949f0a4eb01517f9037b9c"]),
}
ORGANS = ["bladder", "femur-left", "femur-right", "heart", "kidney-left", "kidney-right", "liver", "lung-left", "lung-right", "pancreas", "spleen"]
MED["organamnist"] = ("ct", "multi-class", 1, (34561, 6491, 17778), "CC BY 4.0", ORGANS,
                      ["68e3f8846a6bd62f0c9bf841c0d9eacc", "2dcccc29b88e6da5a01161ef20cda288", "eeae80d0a227a8d099027e1b3cfd3b60", "50747347e05c87dd3aaf92c49f9f3170"])
MED["organcmnist"] = ("ct", "multi-class", 1, (12975, 2392, 8216), "CC BY 4.0", ORGANS,
                      ["b9ceb9546e10131b32923c5bbeaea2b1", "3ce34a8724ea6f548e6db4744d03b6a9", "773c1f009daa3fe5d9a2a201b2a7ed94", "050f5e875dc056f6768abf94ec9995d1"])
MED["organsmnist"] = ("ct", "multi-class", 1, (13932, 2452, 8827), "CC BY 4.0", ORGANS,
                      ["9ab87b696fb54e2a387ebe992d6ed5f1", "53a6d115339d874c25e309a994ff46d3", "ded0c5fa01a95dc4978b956f613e9b8e", "b354719e553fbbb2513d5533f52a4cb1"])

def q(s):
    return '"' + s.replace('"', '\\"') + '"'

def write(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")

for flag, (mod, task, ch, (tr, va, te), lic, labels, md5s) in MED.items():
    for size, md5 in zip([28, 64, 128, 224], md5s):
        fname = f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz"
        note = " RetinaMNIST is ordinal regression in MedMNIST; peftlab treats its 5 grades as classes." if flag == "retinamnist" else ""
        write(os.path.join(ROOT, "medmnist", f"{flag}-{size}.yaml"), [
            f"# Generated by scripts/make_manifests.py from MedMNIST v3.0.2 medmnist/info.py.",
            f"name: {flag}-{size}", f"modality: {mod}", f"task: {task}",
            "classes: [" + ", ".join(q(l) for l in labels) + "]",
            "source: medmnist-npz",
            "location:", f"  path: medmnist/{fname}",
            f"  url: https://zenodo.org/records/10519652/files/{fname}?download=1",
            f"checksum: {{md5: \"{md5}\"}}", "splits: official",
            f"image: {{size: {size}, channels: {ch}}}",
            f"expected: {{train: {tr}, val: {va}, test: {te}}}",
            f"description: {q('MedMNIST ' + flag + ' at ' + str(size) + ' px (official MedMNIST splits).' + note)}",
            f"citation: {q(CITE)}", f"licence: {lic}", "homepage: https://medmnist.com/"])

PAPERS = [  # name, modality, classes, expected counts or None, homepage, citation, note
    ("chaoyang", "pathology", ["normal", "serrated", "adenocarcinoma", "adenoma"], {"train": 4021, "test": 2139},
     "https://bupt-ai-cz.github.io/HSA-NRL/", "Zhu, C., et al.: Hard sample aware noise robust learning for histopathology image classification. IEEE TMI (2021)", "SH-PEFT D1."),
    ("covid19-ct", "ct", ["covid", "non-covid"], {"train": 425, "val": 118, "test": 203},
     "https://github.com/UCSD-AI4H/COVID-CT", "Yang, X., et al.: COVID-CT-Dataset: a CT scan dataset about COVID-19. arXiv:2003.13865 (2020)", "SH-PEFT D2."),
    ("busi", "ultrasound", ["normal", "benign", "malignant"], {"train": 559, "val": 79, "test": 160},
     "https://scholar.cu.edu.eg/?q=afahmy/pages/dataset", "Al-Dhabyani, W., et al.: Dataset of breast ultrasound images. Data in Brief 28, 104863 (2020)", "SH-PEFT D3."),
    ("cxr3", "chest x-ray", ["normal", "bacterial", "viral"], {"train": 4708, "val": 524, "test": 1248},
     "https://data.mendeley.com/datasets/rscbjbr9sj/3", "Kermany, D., Zhang, K., Goldbaum, M.: Large dataset of labeled OCT and chest X-ray images. Mendeley Data (2018)", "SH-PEFT D4 (pediatric chest X-ray)."),
    ("oct", "oct", ["choroidal neovascularization", "diabetic macular edema", "drusen", "normal"], {"train": 97477, "val": 10832, "test": 1000},
     "https://data.mendeley.com/datasets/rscbjbr9sj/3", "Kermany, D., Zhang, K., Goldbaum, M.: Large dataset of labeled OCT and chest X-ray images. Mendeley Data (2018)", "SH-PEFT D5."),
    ("limuc", "endoscopy", ["mayo 0", "mayo 1", "mayo 2", "mayo 3"], {"train": 9590, "test": 1686},
     "https://zenodo.org/records/5827695", "Polat, G., et al.: Labeled Images for Ulcerative Colitis (LIMUC) Dataset. Zenodo (2022)", "SH-PEFT D6 (ulcerative colitis severity)."),
    ("ddr", "fundus", ["0", "1", "2", "3", "4"], None, "https://github.com/nkicsl/DDR-dataset",
     "Li, T., et al.: Diagnostic assessment of deep learning algorithms for diabetic retinopathy screening. Information Sciences (2019)", "FPT+; DR grades; official splits."),
    ("messidor-2", "fundus", ["0", "1", "2", "3", "4"], None, "https://www.adcis.net/en/third-party/messidor2/",
     "Decenciere, E., et al.: Feedback on a publicly distributed image database: the Messidor database. Image Anal. Stereol. 33 (2014)", "FPT+; DR grades; 70/10/20 split."),
    ("isic2018", "dermoscopy", ["melanoma", "melanocytic nevus", "basal cell carcinoma", "actinic keratosis", "benign keratosis", "dermatofibroma", "vascular lesion"], None,
     "https://challenge.isic-archive.com/data/", "Codella, N., et al.: Skin lesion analysis toward melanoma detection 2018. arXiv:1902.03368 (2019)", "FPT+; ISIC 2018 task 3; official splits."),
    ("isic2016", "dermoscopy", ["benign", "malignant"], None, "https://challenge.isic-archive.com/data/",
     "Gutman, D., et al.: Skin lesion analysis toward melanoma detection (ISBI 2016). arXiv:1605.01397 (2016)", "FPT+."),
    ("ddsm", "mammography", ["benign", "malignant"], None, "https://www.cancerimagingarchive.net/collection/cbis-ddsm/",
     "Lee, R.S., et al.: A curated mammography data set for use in computer-aided detection and diagnosis research. Scientific Data 4 (2017)", "FPT+ (CBIS-DDSM)."),
    ("cmmd", "mammography", ["benign", "malignant"], None, "https://www.cancerimagingarchive.net/collection/cmmd/",
     "Cui, C., et al.: The Chinese Mammography Database (CMMD). The Cancer Imaging Archive (2021)", "FPT+."),
    ("covid-cxr", "chest x-ray", ["covid", "normal", "pneumonia"], None, "https://www.kaggle.com/datasets/sid321axn/covid-cxr-image-dataset-research",
     "Siddhartha, M.: COVID CXR image dataset (research). Kaggle (2021)", "FPT+. Check the class folders of your download against this list."),
    ("chncxr", "chest x-ray", ["normal", "tuberculosis"], None, "https://lhncbc.nlm.nih.gov/LHC-downloads/downloads.html#tuberculosis-image-data-sets",
     "Jaeger, S., et al.: Two public chest X-ray datasets for computer-aided screening of pulmonary diseases. Quant. Imaging Med. Surg. 4 (2014)", "FPT+ (Shenzhen set, 662 images)."),
]
for name, mod, classes, expected, home, cite, note in PAPERS:
    task = "binary" if len(classes) == 2 else "multi-class"
    official = expected is not None and "val" in expected
    lines = [f"# Generated by scripts/make_manifests.py. Put the images at data/papers/{name}/<class>/*.png",
             f"# (or data/papers/{name}/<train|val|test>/<class>/*.png for official splits); PNG only for now.",
             f"name: {name}", f"modality: {mod}", f"task: {task}",
             "classes: [" + ", ".join(q(c) for c in classes) + "]", "source: image-folder",
             "location:", f"  path: papers/{name}",
             "splits: official" if official else "splits: {ratios: [0.7, 0.1, 0.2], seed: 0}",
             "image: {size: 224, channels: 3}"]
    if expected and official:
        lines.append("expected: {" + ", ".join(f"{k}: {v}" for k, v in expected.items()) + "}")
    desc = note + ((" The SH-PEFT paper has " + ", ".join(f"{v} {k}" for k, v in expected.items()) + " images and no validation split, so peftlab splits all images 70/10/20.") if expected else "" if expected and not official else
                   (" Counts from the SH-PEFT paper." if expected else " Not downloadable automatically: get it from the homepage (licence terms apply)."))
    lines += [f"description: {q(desc)}", f"citation: {q(cite)}", "licence: see homepage", f"homepage: {home}"]
    write(os.path.join(ROOT, "papers", f"{name}.yaml"), lines)
print("wrote", sum(len(v[6]) for v in MED.values()), "MedMNIST manifests and", len(PAPERS), "paper manifests")
