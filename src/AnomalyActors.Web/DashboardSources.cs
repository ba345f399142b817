using AnomalyActors.Web.Alerts;
using AnomalyActors.Web.Metrics;
using AnomalyActors.Web.Series;

namespace AnomalyActors.Web;

/// <summary>What the dashboard shows, handed to it once by the node that serves it.</summary>
/// <param name="Operations">Read at each request of the operations panel.</param>
public sealed record DashboardSources(
    AlertBoard Board,
    AcknowledgementLog Acknowledgements,
    SeriesStore Series,
    PrometheusExporter Metrics,
    Func<OperationsView> Operations);
