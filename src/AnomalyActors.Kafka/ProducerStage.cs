using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;
using Confluent.Kafka;

namespace AnomalyActors.Kafka;

/// <summary>
/// Produces each record and emits its delivery report with the element's context, in input order.
/// Up to <see cref="ProducerSettings{TKey,TValue}.Parallelism"/> records await their report at once.
/// A failed delivery fails the stage: the producer is idempotent and retries transient errors
/// itself, so what surfaces here is permanent.
/// </summary>
internal sealed class ProducerStage<TKey, TValue, TContext>(ProducerSettings<TKey, TValue> settings)
    : GraphStage<FlowShape<(ProducerRecord<TKey, TValue>, TContext), (DeliveryResult<TKey, TValue>, TContext)>>
{
    private ProducerSettings<TKey, TValue> Settings { get; } = settings;

    private readonly Inlet<(ProducerRecord<TKey, TValue>, TContext)> _in = new("kafka.produce.in");
    private readonly Outlet<(DeliveryResult<TKey, TValue>, TContext)> _out = new("kafka.produce.out");

    public override FlowShape<(ProducerRecord<TKey, TValue>, TContext), (DeliveryResult<TKey, TValue>, TContext)> Shape => new(_in, _out);

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Pending(TContext context)
    {
        public TContext Context { get; } = context;
        public DeliveryReport<TKey, TValue>? Report { get; set; }
    }

    private sealed class Logic : GraphStageLogic
    {
        private readonly ProducerStage<TKey, TValue, TContext> _stage;
        private readonly Queue<Pending> _inFlight = new();
        private IProducer<TKey, TValue>? _producer;
        private Action<(Pending, DeliveryReport<TKey, TValue>)>? _delivered;

        public Logic(ProducerStage<TKey, TValue, TContext> stage) : base(stage.Shape)
        {
            _stage = stage;
            SetHandler(stage._in, onPush: Produce, onUpstreamFinish: () =>
            {
                if (_inFlight.Count == 0)
                {
                    CompleteStage();
                }
            });
            SetHandler(stage._out, onPull: () =>
            {
                EmitReady();
                PullIfRoom();
            });
        }

        public override void PreStart()
        {
            _producer = _stage.Settings.CreateProducer();
            _delivered = GetAsyncCallback<(Pending Pending, DeliveryReport<TKey, TValue> Report)>(done =>
            {
                if (done.Report.Error.IsError)
                {
                    FailStage(new ProduceException<TKey, TValue>(done.Report.Error, done.Report));
                    return;
                }

                done.Pending.Report = done.Report;
                EmitReady();
            });
        }

        private void Produce()
        {
            var (record, context) = Grab(_stage._in);
            var pending = new Pending(context);
            _inFlight.Enqueue(pending);
            var delivered = _delivered!;
            void Report(DeliveryReport<TKey, TValue> report) => delivered((pending, report));
            if (record.TopicPartition is { } partition)
            {
                _producer!.Produce(partition, record.Message, Report);
            }
            else
            {
                _producer!.Produce(record.Topic, record.Message, Report);
            }

            PullIfRoom();
        }

        private void EmitReady()
        {
            while (_inFlight.Count > 0 && _inFlight.Peek().Report is { } report && IsAvailable(_stage._out))
            {
                var done = _inFlight.Dequeue();
                Push(_stage._out, (report, done.Context));
            }

            if (_inFlight.Count == 0 && IsClosed(_stage._in))
            {
                CompleteStage();
                return;
            }

            PullIfRoom();
        }

        private void PullIfRoom()
        {
            if (_inFlight.Count < _stage.Settings.Parallelism && !HasBeenPulled(_stage._in) && !IsClosed(_stage._in))
            {
                Pull(_stage._in);
            }
        }

        public override void PostStop()
        {
            if (_producer is not null)
            {
                _producer.Flush(TimeSpan.FromSeconds(10));
                _producer.Dispose();
            }
        }
    }
}

public static class KafkaProducer
{
    /// <summary>Produces records and passes each one's context on with its delivery report.</summary>
    public static FlowWithContext<ProducerRecord<TKey, TValue>, TContext, DeliveryResult<TKey, TValue>, TContext, NotUsed> FlowWithContext<TKey, TValue, TContext>(
        ProducerSettings<TKey, TValue> settings) =>
        Akka.Streams.Dsl.FlowWithContext.From(Flow.FromGraph(new ProducerStage<TKey, TValue, TContext>(settings)));

    /// <summary>Produces records and emits their delivery reports, in input order.</summary>
    public static Flow<ProducerRecord<TKey, TValue>, DeliveryResult<TKey, TValue>, NotUsed> FlexiFlow<TKey, TValue>(ProducerSettings<TKey, TValue> settings) =>
        Flow.Create<ProducerRecord<TKey, TValue>>()
            .Select(record => (record, NotUsed.Instance))
            .Via(new ProducerStage<TKey, TValue, NotUsed>(settings))
            .Select(pair => pair.Item1);

    /// <summary>Produces every record; the task completes once all are delivered (or fails with the first failed one).</summary>
    public static Sink<ProducerRecord<TKey, TValue>, Task> PlainSink<TKey, TValue>(ProducerSettings<TKey, TValue> settings) =>
        FlexiFlow(settings).ToMaterialized(Sink.Ignore<DeliveryResult<TKey, TValue>>(), Keep.Right)
            .MapMaterializedValue(done => (Task)done);
}
