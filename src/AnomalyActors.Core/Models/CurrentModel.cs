namespace AnomalyActors.Core.Models;

/// <summary>
/// The model a node's sensors are to use: set by whatever pulls and checks models, read by every
/// sensor before it scores. A sensor whose own version differs adopts this one (as a journaled
/// event), so readers only ever see complete models and switch at a point their log fixes.
/// </summary>
public sealed class CurrentModel
{
    private volatile GlobalModel? _model;

    /// <summary>Null until a model was loaded.</summary>
    public GlobalModel? Model => _model;

    public void Set(GlobalModel model) => _model = model ?? throw new ArgumentNullException(nameof(model));
}
