namespace AnomalyActors.Notifications.Channels;

/// <summary>Delivers a batch or throws; the dispatcher retries what throws.</summary>
public interface INotificationChannel : IDisposable
{
    string Name { get; }

    Task SendAsync(NotificationBatch batch, CancellationToken cancellation);
}

/// <summary>The receiver answered, but not with success.</summary>
public sealed class DeliveryFailedException(string message, Exception? inner = null) : Exception(message, inner);
