"""The built-in models and tasks: lazy "module:attr" targets with a one-line summary each.

Built-ins go through the same lazy loading as plugins; the summary is here only so that
``rlbench models`` can describe them without importing torch.
"""

MODELS: dict[str, tuple[str, str]] = {
    "lstm": ("baselines.lstm:LSTMModel", "LSTM over each whole sequence, trained by full BPTT"),
    "lstm-tbptt": (
        "baselines.lstm_tbptt:TBPTTLSTMModel",
        "LSTM trained by truncated BPTT (--set truncation=K), hidden state carried across chunks",
    ),
    "transformer": (
        "baselines.transformer:TransformerModel",
        "causal Transformer encoder, full context (or --set window=W), sinusoidal positions",
    ),
    "mlp": ("baselines.mlp:MLPModel", "per-step MLP, no temporal context (context-free floor)"),
    "rlmem": (
        "rlmem.model:RLMemModel",
        "RL-based memory network: DDPG write policy, post-state critic, one-step TD (ACM MM 2022)",
    ),
    "memnet-bptt": ("rlmem.model:MemNetBPTTModel", "memory network like rlmem, writes learnt by full BPTT (ablation twin)"),
    "vasnet": ("baselines.summarizers:VASNetModel",
               "VASNet (Fajtl et al. 2018): soft self-attention over the whole video, 2-layer regressor"),
    "pgl-sum": ("baselines.summarizers:PGLSumModel",
                "PGL-SUM (Apostolidis et al. 2021): global + local multi-head attention, positional encoding"),
    "dsnet-af": ("baselines.dsnet:DSNetAFModel",
                 "DSNet anchor-free (Zhu et al. 2021): attention encoder, detect-to-summarize heads, NMS"),
    "s4d": ("baselines.ssm.s4d:S4DModel", "S4D (Gu et al. 2022): diagonal complex state spaces, S4D-Lin init, FFT convolution per segment"),
    "lru": ("baselines.ssm.lru:LRUModel", "LRU (Orvieto et al. 2023): ring-initialised complex linear recurrence, chunked scan"),
    "mamba": ("baselines.ssm.mamba:MambaModel",
              "selective state-space block after Mamba (Gu & Dao 2023), pure PyTorch on the chunked scan"),
    "mingru": ("baselines.ssm.mingru:MinGRUModel", "minGRU (Feng et al. 2024): input-only gates, linear recurrence, chunked scan"),
    "xlstm": ("baselines.xlstm_model:XLSTMModel",
              "xLSTM (Beck et al. 2024): mLSTM blocks of the xlstm package, native kernels (pip install -e \".[xlstm]\")"),
    "ridge": ("baselines.classic:RidgeModel", "ridge regression per step on standardised features (scikit-learn)"),
    "svr": ("baselines.classic:SVRModel", "support vector regression per step, rbf kernel (scikit-learn)"),
    "mean": ("baselines.reference:MeanModel", "reference: predicts the training-set mean of each target"),
    "random": ("baselines.reference:RandomModel", "reference: uniform random predictions in the training target range"),
    "human": ("baselines.reference:HumanModel", "reference: agreement of each annotator with the others (Otani et al. 2019)"),
    "oracle": ("baselines.reference:OracleModel", "reference: knows the hidden state of a synthetic task (ceiling)"),
}

TASKS: dict[str, tuple[str, str]] = {
    "synth-affect": (
        "tasks.synthetic:SynthAffect",
        "synthetic valence/arousal over 5 modalities; a cue shifts the targets for `lag` segments",
    ),
    "synth-summary": (
        "tasks.synthetic:SynthSummary",
        "synthetic video summarization; importance depends on a theme introduced long before",
    ),
    "liris-accede": (
        "tasks.liris_accede:LirisAccede",
        "LIRIS-ACCEDE continuous: 30 movies, per-second induced valence/arousal (--data-root DIR, your features)",
    ),
    "mediaeval18": (
        "tasks.liris_accede:MediaEval18",
        "MediaEval 2018 Emotional Impact of Movies: per-second V/A, official dev/test split (--data-root DIR)",
    ),
    "pmemo": ("tasks.pmemo:PMEmo", "PMEmo2019 dynamic music emotion: 2 Hz valence/arousal, openSMILE features (--data-root DIR)"),
    "tvsum": ("tasks.eccv16:TVSum", "TVSum from the eccv16 h5; keyshot F-score, mean over annotators (--data-root DIR)"),
    "summe": ("tasks.eccv16:SumMe", "SumMe from the eccv16 h5; keyshot F-score, max over annotators (--data-root DIR)"),
    "tvsum-clips": (
        "tasks.tvsum_clips:TVSumClips",
        "real TVSum at 2-s clip level: I3D rgb/flow + PANN audio, 20 annotators (--data-root DIR)",
    ),
    "generic": ("tasks.generic:GenericTask", "your own sequences from an HDF5 file (layout: docs/tasks.md)"),
}
