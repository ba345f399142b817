using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Implementations;
using MQTTnet.Server;

namespace AnomalyActors.Mqtt;

/// <summary>
/// The embedded broker's TCP and TLS listeners. MQTTnet reads a whole packet into memory, however
/// large its header says it is, before anything can look at it; these listeners put a
/// <see cref="PacketSizeLimit"/> between the socket and MQTTnet, so a packet announcing more than the
/// maximum closes its connection before its body is read.
/// </summary>
internal sealed class BoundedListener(int maxPacketBytes, Action<string> log) : IMqttServerAdapter
{
    private readonly List<Socket> _sockets = [];
    private CancellationTokenSource? _stopping;
    private long _oversized;

    public Func<IMqttChannelAdapter, Task>? ClientHandler { get; set; }

    /// <summary>Connections closed because a packet was over the maximum size.</summary>
    public long Oversized => Interlocked.Read(ref _oversized);

    public Task StartAsync(MqttServerOptions options, IMqttNetLogger logger)
    {
        _stopping = new CancellationTokenSource();
        if (options.DefaultEndpointOptions.IsEnabled)
        {
            Listen(options, options.DefaultEndpointOptions, null, logger);
        }

        if (options.TlsEndpointOptions.IsEnabled)
        {
            var certificate = options.TlsEndpointOptions.CertificateProvider?.GetCertificate()
                ?? throw new InvalidOperationException("The TLS listener has no certificate.");
            Listen(options, options.TlsEndpointOptions, certificate, logger);
        }

        return Task.CompletedTask;
    }

    private void Listen(MqttServerOptions options, MqttServerTcpEndpointBaseOptions endpoint, X509Certificate2? certificate, IMqttNetLogger logger)
    {
        foreach (var address in new[] { endpoint.BoundInterNetworkAddress, endpoint.BoundInterNetworkV6Address })
        {
            if (address is null || address.Equals(IPAddress.None))
            {
                continue;
            }

            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                if (address.AddressFamily == AddressFamily.InterNetworkV6)
                {
                    // Exactly the configured address: an IPv6 socket would otherwise also take IPv4.
                    socket.DualMode = false;
                }

                socket.NoDelay = endpoint.NoDelay;
                socket.Bind(new IPEndPoint(address, endpoint.Port));
                socket.Listen(endpoint.ConnectionBacklog);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                StopAsync();
                throw new ListenerBindException(address, endpoint.Port, e);
            }

            _sockets.Add(socket);
            _ = AcceptAsync(socket, options, endpoint, certificate, logger, _stopping!.Token);
        }
    }

    private async Task AcceptAsync(Socket listener, MqttServerOptions options, MqttServerTcpEndpointBaseOptions endpoint, X509Certificate2? certificate, IMqttNetLogger logger, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                // A connection that went away before it was accepted; the listener goes on.
                continue;
            }

            _ = Task.Run(() => ServeAsync(client, options, endpoint, certificate, logger), CancellationToken.None);
        }
    }

    private async Task ServeAsync(Socket client, MqttServerOptions options, MqttServerTcpEndpointBaseOptions endpoint, X509Certificate2? certificate, IMqttNetLogger logger)
    {
        Stream? stream = null;
        var remote = client.RemoteEndPoint;
        try
        {
            client.NoDelay = endpoint.NoDelay;
            stream = new NetworkStream(client, ownsSocket: true);
            if (certificate is not null)
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificate = certificate,
                    EncryptionPolicy = EncryptionPolicy.RequireEncryption,
                }).ConfigureAwait(false);
                stream = tls;
            }

            stream = new PacketSizeLimit(stream, maxPacketBytes, size =>
            {
                if (Interlocked.Increment(ref _oversized) is 1 or 100 or 10_000)
                {
                    log($"MQTT broker: closed the connection from {remote}: a packet of {size:N0} bytes is over the maximum of {maxPacketBytes:N0} ({Oversized} so far)");
                }
            });
            if (ClientHandler is { } handler)
            {
                var channel = new MqttTcpChannel(stream, client.LocalEndPoint, remote, null);
                using var adapter = new MqttChannelAdapter(channel, new MqttPacketFormatterAdapter(new MqttBufferWriter(options.WriterBufferSize, options.WriterBufferSizeMax)), logger);
                await handler(adapter).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or System.Security.Authentication.AuthenticationException)
        {
            // The client went away, failed its TLS handshake, or sent an oversized packet.
        }
        finally
        {
            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }

            client.Dispose();
        }
    }

    public Task StopAsync()
    {
        _stopping?.Cancel();
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }

        _sockets.Clear();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        StopAsync();
        _stopping?.Dispose();
    }
}

/// <summary>The broker could not listen where it was told to (the port is taken, the address is not this machine's).</summary>
public sealed class ListenerBindException(IPAddress address, int port, SocketException cause)
    : Exception($"Cannot listen on {(address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString())}:{port}: {Describe(cause.SocketErrorCode)}", cause)
{
    public int Port { get; } = port;

    private static string Describe(SocketError error) => error switch
    {
        SocketError.AddressAlreadyInUse => "the port is in use by another program",
        SocketError.AddressNotAvailable => "the address is not one of this machine's",
        SocketError.AccessDenied => "permission denied (ports below 1024 need privileges)",
        _ => error.ToString(),
    };
}

/// <summary>
/// Reads MQTT packets' fixed headers as the bytes pass and fails the read that brings a remaining
/// length over the maximum, before the packet's body is asked for.
/// </summary>
internal sealed class PacketSizeLimit(Stream inner, int maxPacketBytes, Action<long> exceeded) : Stream
{
    private enum State
    {
        Type,
        Length,
        Body,
    }

    private State _state = State.Type;
    private long _length;
    private int _lengthBytes;
    private int _multiplier = 1;
    private long _bodyLeft;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Check(buffer.AsSpan(offset, inner.Read(buffer, offset, count)));

    public override int Read(Span<byte> buffer) => Check(buffer[..inner.Read(buffer)]);

    public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Check(buffer.AsSpan(offset, await inner.ReadAsync(buffer.AsMemory(offset, count), cancellationToken).ConfigureAwait(false)));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Check(buffer.Span[..read]);
    }

    private int Check(ReadOnlySpan<byte> bytes)
    {
        var i = 0;
        while (i < bytes.Length)
        {
            switch (_state)
            {
                case State.Type:
                    i++;
                    _state = State.Length;
                    _length = 0;
                    _lengthBytes = 0;
                    _multiplier = 1;
                    break;
                case State.Length:
                    var b = bytes[i++];
                    _length += (b & 0x7F) * (long)_multiplier;
                    _multiplier *= 128;
                    _lengthBytes++;
                    if ((b & 0x80) != 0 && _lengthBytes < 4)
                    {
                        break;
                    }

                    var size = 1 + _lengthBytes + _length;
                    if (size > maxPacketBytes)
                    {
                        exceeded(size);
                        throw new IOException($"MQTT packet of {size} bytes; at most {maxPacketBytes}.");
                    }

                    _bodyLeft = _length;
                    _state = _bodyLeft == 0 ? State.Type : State.Body;
                    break;
                default:
                    var skip = (int)Math.Min(_bodyLeft, bytes.Length - i);
                    i += skip;
                    _bodyLeft -= skip;
                    if (_bodyLeft == 0)
                    {
                        _state = State.Type;
                    }

                    break;
            }
        }

        return bytes.Length;
    }

    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

    public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.WriteAsync(buffer, offset, count, cancellationToken);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.WriteAsync(buffer, cancellationToken);

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync() => inner.DisposeAsync();
}
