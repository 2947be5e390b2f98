"""AnnData front (scanpy-style ``tl``): fit once, predict anywhere, score, diagnose, match.

>>> import trackability as tk
>>> model = tk.tl.fit(adata, "laot", groupby="condition", control="control",
...                   treated="stimulated", use_rep="X_pca")          # doctest: +SKIP
>>> pred = tk.tl.predict(model, held_out)      # a new AnnData of predicted cells   # doctest: +SKIP
>>> tk.tl.score(pred, held_out)                # tidy DataFrame, benchmark metrics  # doctest: +SKIP

anndata is imported only when these functions run.
"""

from trackability.tl.diagnose import diagnose
from trackability.tl.fit import FittedModel, fit
from trackability.tl.match import match, transition_table
from trackability.tl.predict import fit_predict, predict
from trackability.tl.score import METRICS, score

__all__ = ["METRICS", "FittedModel", "diagnose", "fit", "fit_predict", "match", "predict", "score",
           "transition_table"]
