"""AnnData front (scanpy-style ``tl``): fit a perturbation model on an AnnData, write results back.

``trackability.tl.fit_predict(adata, "laot", groupby="condition", source="control",
target="stimulated")`` writes the predictions to ``adata.obsm["X_trackability"]``, the LAOT
matching to ``adata.obs``, and the parameters, fitted map and diagnostics to
``adata.uns["trackability"]``. anndata is imported only when these functions run.
"""

from trackability.tl.predict import fit_predict, score_prediction

__all__ = ["fit_predict", "score_prediction"]
