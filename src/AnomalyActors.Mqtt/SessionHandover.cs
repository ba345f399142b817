using System.Collections.Concurrent;
using System.Net;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace AnomalyActors.Mqtt;

/// <summary>
/// Lets a client id have one live connection at a time: a connection that comes while the id still
/// has one waits until that one has ended, instead of taking it over. MQTTnet's takeover hands the
/// session's unacknowledged messages to the new connection while the old connection's send loop is
/// still running, and that loop takes the first of them and drops it, so a subscriber back after a
/// network fault the broker had not noticed yet (or reconnecting just after a clean disconnect the
/// broker had not read yet) lost one QoS 1 message.
/// </summary>
internal sealed class SessionHandover
{
    private readonly ConcurrentDictionary<string, LiveConnection> _live = new(StringComparer.Ordinal);
    private readonly MqttServer _server;
    private readonly TimeSpan _timeout;

    public SessionHandover(MqttServer server, TimeSpan timeout)
    {
        _server = server;
        _timeout = timeout;
        server.ClientConnectedAsync += OnConnected;
        server.ClientDisconnectedAsync += OnDisconnected;
    }

    /// <summary>
    /// Ends the live connection of <paramref name="clientId"/>, if any, and waits for it to be gone;
    /// false when it did not end within the timeout (the new connection is then refused and retries).
    /// </summary>
    public async Task<bool> EndPreviousAsync(string clientId)
    {
        if (string.IsNullOrEmpty(clientId) || !_live.TryGetValue(clientId, out var previous))
        {
            return true;
        }

        // Not awaited by itself: telling a connection whose peer is gone that it was taken over can
        // take as long as a send may, and the wait below is what is bounded.
        _ = DisconnectAsync(clientId);
        try
        {
            await previous.Ended.Task.WaitAsync(_timeout).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            // A connection whose end was never announced must not lock its id out for good.
            var clients = await _server.GetClientsAsync().ConfigureAwait(false);
            if (clients.Any(c => string.Equals(c.Id, clientId, StringComparison.Ordinal)))
            {
                return false;
            }

            _live.TryRemove(new KeyValuePair<string, LiveConnection>(clientId, previous));
            return true;
        }
    }

    private async Task DisconnectAsync(string clientId)
    {
        try
        {
            await _server.DisconnectClientAsync(clientId, MqttDisconnectReasonCode.SessionTakenOver).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Already ending on its own: its end is what the new connection waits for.
        }
    }

    private Task OnConnected(ClientConnectedEventArgs e)
    {
        var connection = new LiveConnection(e.RemoteEndPoint);
        _live.AddOrUpdate(e.ClientId, connection, (_, replaced) =>
        {
            // Taken over after all (two connections with one id validated at once): the replaced
            // one is gone as far as later connections are concerned.
            replaced.Ended.TrySetResult();
            return connection;
        });
        return Task.CompletedTask;
    }

    private Task OnDisconnected(ClientDisconnectedEventArgs e)
    {
        // Only the connection that ended: a newer one under the same id stays live.
        if (_live.TryGetValue(e.ClientId, out var connection) && Equals(connection.RemoteEndPoint, e.RemoteEndPoint)
            && _live.TryRemove(new KeyValuePair<string, LiveConnection>(e.ClientId, connection)))
        {
            connection.Ended.TrySetResult();
        }

        return Task.CompletedTask;
    }

    private sealed class LiveConnection(EndPoint? remoteEndPoint)
    {
        public EndPoint? RemoteEndPoint { get; } = remoteEndPoint;
        public TaskCompletionSource Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
