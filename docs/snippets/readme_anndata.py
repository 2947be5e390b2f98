"""The README's AnnData example, with the numbers it quotes (run: python docs/snippets/readme_anndata.py)."""

import anndata as ad

import trackability as tk
from trackability.data import load_kang

adata = load_kang()
held_out = adata.obs["cell_type"] == "B"
train, test = adata[~held_out].copy(), adata[held_out].copy()
metrics = ["mmd2", "energy", "mean_r2"]
for method, params in (("laot", {"fit_intercept": True}), ("meanshift", None)):
    model = tk.tl.fit(train, method, groupby="condition", control="control", treated="stimulated",
                      preprocess=[("pca", {"n_components": 50})], params=params)
    pred = tk.tl.predict(model, test)
    print(method, pred.shape)
    print(tk.tl.score(pred, test, model=model, metrics=metrics)[["metric", "value"]].to_string())
both = ad.concat([test, pred])
print(both.obs["condition"].value_counts().to_dict(), "NaN in X:", bool((both.X != both.X).sum()))
print(repr(tk.tl.diagnose(train, "condition", "control", "stimulated", gap=6, time_unit="hours")))
